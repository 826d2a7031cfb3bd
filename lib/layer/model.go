package layer

import (
	"fmt"
	"hash/crc32"
	"io"
	"strings"

	"github.com/go-dockertools/dockertools/lib/image"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MeasureStorePaths writes the layer of store paths once, into nothing
// but its digests, and returns it as a layer of the model: its diffID
// and size, and a source that writes it again from the store, checked
// against the first pass (its size and a CRC-32C, which costs a tenth of
// the sha256), so a store path modified in between is an error naming
// the layer rather than an image whose layer is not its diffID.
func MeasureStorePaths(paths []string, o Options) (image.Layer, error) {
	crc := crc32.New(castagnoli)
	res, err := WriteStorePaths(crc, paths, o)
	if err != nil {
		return image.Layer{}, err
	}
	return image.Layer{
		DiffID: res.DiffID, Size: res.Size,
		Source: &measured{paths: paths, o: o, size: res.Size, crc: crc.Sum32()},
	}, nil
}

type measured struct {
	paths []string
	o     Options
	size  int64
	crc   uint32
}

func (m *measured) String() string { return "store paths " + strings.Join(m.paths, " ") }

func (m *measured) Stream(w io.Writer) error {
	crc := crc32.New(castagnoli)
	o := m.o
	o.NoDiffID, o.TarSum = true, false
	res, err := WriteStorePaths(io.MultiWriter(w, crc), m.paths, o)
	if err != nil {
		return err
	}
	if res.Size != m.size || crc.Sum32() != m.crc {
		return fmt.Errorf("the layer of %s changed while the image was written (its paths were modified)", m)
	}
	return nil
}
