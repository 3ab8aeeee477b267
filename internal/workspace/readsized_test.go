package workspace

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

// readAllSized reads everything whatever the size it is told: a file
// that grew or shrank since its Stat, or that answers a byte at a time.
func TestReadAllSized(t *testing.T) {
	data := bytes.Repeat([]byte("APP=capy:v1:x\n"), 1000)
	for _, size := range []int64{0, 1, 100, int64(len(data)) - 1, int64(len(data)), int64(len(data)) + 1, 1 << 20} {
		for name, r := range map[string]func() io.Reader{
			"whole":   func() io.Reader { return bytes.NewReader(data) },
			"onebyte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
		} {
			got, err := readAllSized(r(), size)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("size %d, %s: read %d bytes (err %v), want %d", size, name, len(got), err, len(data))
			}
		}
	}
	if _, err := readAllSized(iotest.ErrReader(io.ErrUnexpectedEOF), 10); err != io.ErrUnexpectedEOF {
		t.Errorf("a read error: got %v", err)
	}
}
