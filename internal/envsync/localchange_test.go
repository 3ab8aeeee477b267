package envsync

import (
	"os"
	"testing"

	"github.com/capy-oss/capy/internal/envfile"
)

// TestLocalFileChangedDuringSync: the file changes between the sync's read
// and its rewrite — a concurrent `capy set` in the same checkout writes a
// snippet, or an editor saves a plaintext edit — while the push is in
// flight. The sync must not replace the file with a document built from
// its stale read (which silently dropped the change: `capy set` then
// reported "up to date" and the value was gone); it starts over from the
// new content, so the change ends up in the file and on the service.
func TestLocalFileChangedDuringSync(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(m *machine, doc *envfile.Document) // the concurrent change to NEW=late
	}{
		{"capy set", func(m *machine, doc *envfile.Document) {
			c, _ := m.kr.Cipher(1)
			s, err := c.Seal("NEW", "late", false)
			if err != nil {
				t.Fatal(err)
			}
			if err := doc.Set("NEW", s, false); err != nil {
				t.Fatal(err)
			}
		}},
		{"editor", func(m *machine, doc *envfile.Document) {
			if err := doc.Set("NEW", "late", false); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &memRemote{}
			kr := memberKeys(t)
			a := newMachine(t, r, kr, "A=1\nB=2\n")
			if _, err := a.sync(PreferNone); err != nil {
				t.Fatal(err)
			}
			// A plaintext edit to push; while the push is in flight, the
			// file gains NEW=late.
			doc, err := envfile.Parse([]byte(a.read()))
			if err != nil {
				t.Fatal(err)
			}
			if err := doc.Set("B", "3", false); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(a.file, doc.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			r.onPush = func() {
				doc, err := envfile.Parse([]byte(a.read()))
				if err != nil {
					t.Fatal(err)
				}
				tc.write(a, doc)
				if err := envfile.WriteFileAtomic(a.file, doc.Bytes()); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := a.sync(PreferNone)
			if err != nil {
				t.Fatal(err)
			}
			if v := a.values(); v["A"] != "1" || v["B"] != "3" || v["NEW"] != "late" {
				t.Fatalf("file after the sync: %v", v)
			}
			c, _ := kr.Cipher(1)
			if lf, _ := ReadLocal(plainFile(a.file), c); len(lf.Plaintext) > 0 {
				t.Fatalf("plaintext left in the file: %v", lf.Plaintext)
			}
			if !rep.Pushed || rep.Retries != 1 || rep.Version != 3 {
				t.Fatalf("report %+v: want pushed, one retry, version 3 (B, then NEW)", rep)
			}
			// The service has NEW too: a second machine sees it.
			b := newMachine(t, r, kr, "")
			if _, err := b.sync(PreferNone); err != nil {
				t.Fatal(err)
			}
			if v := b.values(); v["A"] != "1" || v["B"] != "3" || v["NEW"] != "late" {
				t.Fatalf("the service holds %v", v)
			}
			// And the next sync of the first machine is up to date.
			rep, err = a.sync(PreferNone)
			if err != nil || rep.Pushed || rep.FileChanged {
				t.Fatalf("second sync: %+v %v", rep, err)
			}
		})
	}
}
