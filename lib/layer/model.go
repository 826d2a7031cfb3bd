package layer

import (
	"fmt"
	"hash"
	"hash/crc64"
	"io"
	"strings"

	"github.com/go-dockertools/dockertools/lib/image"
)

// MeasureStorePaths writes the layer of store paths once, into nothing
// but its digests, and returns it as a layer of the model: its diffID
// and size, and a source that writes it again from the store.
//
// The second writing hashes nothing: it sends the files' contents to its
// destination straight from the kernel where the destination can take
// them so (zerocopy), and it is checked against a fingerprint of the
// first: every entry's header fields, and each file's device, inode,
// mtime and ctime as they were when it was read (checked unchanged across
// each read). A file whose contents change changes its ctime, which no
// program can set back, so a store path modified in between is an error
// naming the layer rather than an image whose layer is not its diffID.
func MeasureStorePaths(paths []string, o Options) (image.Layer, error) {
	o.fingerprint = crc64.New(crcTable)
	res, err := WriteStorePaths(io.Discard, paths, o)
	if err != nil {
		return image.Layer{}, err
	}
	return image.Layer{
		DiffID: res.DiffID, Size: res.Size,
		Source: &measured{paths: paths, o: o, size: res.Size, fp: o.fingerprint.(hash.Hash64).Sum64()},
	}, nil
}

var crcTable = crc64.MakeTable(crc64.ECMA)

type measured struct {
	paths []string
	o     Options
	size  int64
	fp    uint64
}

func (m *measured) String() string { return "store paths " + strings.Join(m.paths, " ") }

func (m *measured) Stream(w io.Writer) error {
	o := m.o
	o.NoDiffID, o.TarSum, o.zeroCopy = true, false, true
	o.fingerprint = crc64.New(crcTable)
	res, err := WriteStorePaths(w, m.paths, o)
	if err != nil {
		return err
	}
	if res.Size != m.size || o.fingerprint.(hash.Hash64).Sum64() != m.fp {
		return fmt.Errorf("the layer of %s changed while the image was written (its paths were modified)", m)
	}
	return nil
}
