package tarsum_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-dockertools/dockertools/lib/tarsum"
)

// The layers of the conformance fixture (conformance/README.md, cases a
// and b), gzipped under testdata/fixture: a1-a4, b6, b7 as path-to-layer
// writes them for the fixture store (same bytes as nixpkgs), a5 the
// customisation layer's layer.tar. Each is checked against its diffID
// first, so the TarSum is that of the very layer the table names.
//
// Layer a3 holds fx-data/blob.bin, 3 MiB of Python's random.Random(42)
// bytes (mkstore.py): it is stored with that member's data zeroed and
// the test puts the bytes back.
var fixtureLayers = []struct {
	file, diffID, tarsum string
}{
	{"a1.tar.gz", "d5a5363a4f9124f1271ab1247c7278352a8b8b148f900c60408253c58be9eac4", "6bff9fc6457c0b09293f66f7b245db30ad176a2dcf0fdde6811fbd1f31d0dd45"},
	{"a2.tar.gz", "7cbc8bdbc4c17bd9ad8009aa0bf0810eb1862faa389ba3c1db5454ed02a5111a", "9cbabba87f8fc2bba3243f57459a9969f12c83ea715bfa7e936ec33d874f8126"},
	{"a3-blob-zeroed.tar.gz", "080780f18ab3e58ef14c7d45aa8909a4081b82495ce262fb9dc5291b035aabff", "0d99850e979691de42671952e93fe33b14833f16126366495fa2b09da7a45d6b"},
	{"a4.tar.gz", "4e5f57a5581304b80d5f87669e7b5a2559d45ebc43e4f4c12f30c58d8ce3404d", "13bc3b00d181887db2de47955201c6936eae16d50d7813e0996e5b3e974e1c30"},
	{"a5.tar.gz", "3e3d644cb5129a4b0ad6fc11f34394bbd1292557f240ae230bfd119db3faecf4", "82b01d3b4a3c79ee0531758e78192e8e36cf673769cfbbdbc7837dde8c29b44e"},
	{"b6.tar.gz", "5ba6bc179939637cdc61456b724d34e8bef466bfe9279d10554b119c5c27a694", "41a5bcc73dd07dd9d21ad97c933bc6838e67989013d8f46f309291b3e2cdc63c"},
	{"b7.tar.gz", "8c3fe7b3641776d10ea2f52cbfded3499a8b0bf74e4ce120754c361cfa57a234", "89a47a1d0db5eb58a0bfd057589c61e2c7f0982d7d99b789c69b371507398051"},
}

// Where blob.bin's data sits in layer a3: after the headers of /nix/,
// /nix/store/, the store path and blob.bin itself.
const (
	blobHeader = 3 * 512
	blobData   = 4 * 512
	blobSize   = 3*1024*1024 + 17
)

func TestFixtureLayers(t *testing.T) {
	for _, l := range fixtureLayers {
		t.Run(l.file, func(t *testing.T) {
			layer := gunzip(t, filepath.Join("testdata", "fixture", l.file))
			if l.file == "a3-blob-zeroed.tar.gz" {
				name := "/nix/store/33333333333333333333333333333333-fx-data/blob.bin"
				if got := string(layer[blobHeader : blobHeader+len(name)]); got != name {
					t.Fatalf("member at %d is %q, want %q", blobHeader, got, name)
				}
				copy(layer[blobData:blobData+blobSize], pythonRandomBytes(42, blobSize))
			}
			if sum := sha256.Sum256(layer); hex.EncodeToString(sum[:]) != l.diffID {
				t.Fatalf("diffID %x, want %s: the fixture file is not the layer", sum, l.diffID)
			}
			got, err := tarsum.Archive(bytes.NewReader(layer), tarsum.Version1, "sha256", nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := "tarsum.v1+sha256:" + l.tarsum; got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func gunzip(t testing.TB, name string) []byte {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pythonRandomBytes returns what Python's
// bytes(random.Random(seed).getrandbits(8) for _ in range(n)) does for a
// seed below 2**32: the top byte of each MT19937 output, seeded by
// init_by_array([seed]).
func pythonRandomBytes(seed uint32, n int) []byte {
	const (
		size = 624
		m    = 397
	)
	var mt [size]uint32
	mt[0] = 19650218
	for i := 1; i < size; i++ {
		mt[i] = 1812433253*(mt[i-1]^mt[i-1]>>30) + uint32(i)
	}
	i := 1
	for k := size; k > 0; k-- { // the key has one word, used with j = 0
		mt[i] = (mt[i] ^ (mt[i-1]^mt[i-1]>>30)*1664525) + seed
		if i++; i >= size {
			mt[0], i = mt[size-1], 1
		}
	}
	for k := size - 1; k > 0; k-- {
		mt[i] = (mt[i] ^ (mt[i-1]^mt[i-1]>>30)*1566083941) - uint32(i)
		if i++; i >= size {
			mt[0], i = mt[size-1], 1
		}
	}
	mt[0] = 0x80000000

	out := make([]byte, n)
	idx := size
	for o := range out {
		if idx >= size {
			for j := range size {
				y := mt[j]&0x80000000 | mt[(j+1)%size]&0x7fffffff
				v := mt[(j+m)%size] ^ y>>1
				if y&1 != 0 {
					v ^= 0x9908b0df
				}
				mt[j] = v
			}
			idx = 0
		}
		y := mt[idx]
		idx++
		y ^= y >> 11
		y ^= y << 7 & 0x9d2c5680
		y ^= y << 15 & 0xefc60000
		y ^= y >> 18
		out[o] = byte(y >> 24)
	}
	return out
}

func TestPythonRandomBytes(t *testing.T) {
	// python3 -c 'import random; r=random.Random(42); print(bytes(r.getrandbits(8) for _ in range(16)).hex())'
	if got, want := hex.EncodeToString(pythonRandomBytes(42, 16)), "a31c06bd463e3923bc1aadbde48b1697"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
