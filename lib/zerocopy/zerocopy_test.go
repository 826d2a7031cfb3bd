package zerocopy_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-dockertools/dockertools/lib/zerocopy"
)

// TestSend: the bytes arrive whole from the current offset, to a file
// (sendfile), through a Buffered writer after what it buffered, to a
// pipe, and to a plain writer (copied); a file shorter than asked is
// io.ErrUnexpectedEOF.
func TestSend(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("0123456789abcdef"), 100000)
	src := filepath.Join(dir, "src")
	os.WriteFile(src, data, 0o644)
	open := func() *os.File {
		f, err := os.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		f.Seek(16, io.SeekStart)
		t.Cleanup(func() { f.Close() })
		return f
	}
	want := append([]byte("head"), data[16:16+1000000]...)

	out, _ := os.Create(filepath.Join(dir, "out"))
	out.Write([]byte("head"))
	if n, err := zerocopy.Send(out, open(), 1000000); err != nil || n != 1000000 {
		t.Fatalf("to a file: %d, %v", n, err)
	}
	out.Close()
	if got, _ := os.ReadFile(out.Name()); !bytes.Equal(got, want) {
		t.Error("to a file: other bytes")
	}

	out2, _ := os.Create(filepath.Join(dir, "out2"))
	b := zerocopy.NewBuffered(out2, 4096)
	b.Write([]byte("head"))
	if _, err := zerocopy.Send(b, open(), 1000000); err != nil {
		t.Fatal(err)
	}
	b.Flush()
	out2.Close()
	if got, _ := os.ReadFile(out2.Name()); !bytes.Equal(got, want) {
		t.Error("through Buffered: other bytes")
	}

	pr, pw, _ := os.Pipe()
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(pr); done <- b }()
	pw.Write([]byte("head"))
	if _, err := zerocopy.Send(pw, open(), 1000000); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if got := <-done; !bytes.Equal(got, want) {
		t.Error("to a pipe: other bytes")
	}

	var buf bytes.Buffer
	buf.WriteString("head")
	if _, err := zerocopy.Send(&buf, open(), 1000000); err != nil || !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("copied: %v", err)
	}

	for _, w := range []io.Writer{&bytes.Buffer{}, func() io.Writer { f, _ := os.Create(filepath.Join(dir, "short")); return f }()} {
		if _, err := zerocopy.Send(w, open(), int64(len(data))); err != io.ErrUnexpectedEOF {
			t.Errorf("%T: a short file: %v", w, err)
		}
	}
}
