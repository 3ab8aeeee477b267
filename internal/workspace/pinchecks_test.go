package workspace

import (
	"bytes"
	"os"
	"testing"
)

// pins_checked keeps the newest MaxPinChecks tags, and a damaged file
// reads as no tags (the pins are then derived again), never as an error.
func TestPinChecks(t *testing.T) {
	h := home(t)
	o := h.Org(service, org)
	tag := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 32) }
	if o.PinChecked(tag(1)) {
		t.Fatal("a tag is found in no file")
	}
	for i := 1; i <= MaxPinChecks+2; i++ {
		if err := o.RecordPinCheck(tag(i)); err != nil {
			t.Fatal(err)
		}
	}
	if !o.PinChecked(tag(MaxPinChecks+2)) || !o.PinChecked(tag(3)) {
		t.Fatal("a recorded tag is not found")
	}
	if o.PinChecked(tag(1)) || o.PinChecked(tag(2)) {
		t.Fatal("the oldest tags are kept beyond the bound")
	}
	p := scopedPath(t, h, pinChecksFile)
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("pins_checked: %v %v", fi, err)
	}
	if err := os.WriteFile(p, []byte("not hex\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if o.PinChecked(tag(3)) {
		t.Fatal("a damaged file still finds a tag")
	}
	if err := o.RecordPinCheck(tag(9)); err != nil || !o.PinChecked(tag(9)) {
		t.Fatalf("record after damage: %v", err)
	}
	// One that others may read is ignored, and the next record makes it
	// private again.
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if o.PinChecked(tag(9)) {
		t.Fatal("a group-readable pins_checked is used")
	}
	if err := o.RecordPinCheck(tag(10)); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 || !o.PinChecked(tag(10)) {
		t.Fatalf("after the record: %v %v", fi, err)
	}
}
