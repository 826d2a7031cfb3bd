package layer_test

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
	gotime "time"
)

func time(sec int64) gotime.Time { return gotime.Unix(sec, 0) }

func readHeaders(t *testing.T, data []byte) []*tar.Header {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var hs []*tar.Header
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hs
		}
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
}
