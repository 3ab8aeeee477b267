package workspace

import (
	"bytes"
	"crypto/hmac"
	"encoding/hex"

	"github.com/capy-oss/capy/internal/privfile"
)

// pins_checked holds the tags (keys.PinCheckTag) of environment pins this
// machine has derived from the project key and found right, one hex tag a
// line, newest last. It is a cache: a tag proves nothing without the key
// that made it, so a missing, damaged or unreadable file only means the
// pins are derived and checked again.
const (
	pinChecksFile = "pins_checked"
	// MaxPinChecks bounds the tags kept (the newest): one per environment
	// and epoch a person works with.
	MaxPinChecks = 64
	pinTagHex    = 64
)

// pinChecks reads the kept tags; any trouble reads as none.
func (o Org) pinChecks() [][]byte {
	// Only this service's directory: no capy kept pins_checked in the
	// legacy layout.
	p, err := o.path(pinChecksFile)
	if err != nil {
		return nil
	}
	data, err := privfile.ReadPrivate(p, int64(MaxPinChecks*(pinTagHex+1)))
	if err != nil {
		return nil
	}
	var tags [][]byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		tag := make([]byte, hex.DecodedLen(len(line)))
		if len(line) != pinTagHex {
			return nil
		}
		if _, err := hex.Decode(tag, line); err != nil {
			return nil
		}
		tags = append(tags, tag)
	}
	return tags
}

// PinChecked reports whether tag is one this machine recorded.
func (o Org) PinChecked(tag []byte) bool {
	found := false
	for _, t := range o.pinChecks() {
		if hmac.Equal(t, tag) {
			found = true
		}
	}
	return found
}

// RecordPinCheck keeps tag (the newest MaxPinChecks are kept). The write
// skips the directory fsync: losing it costs one more derivation.
func (o Org) RecordPinCheck(tag []byte) error {
	tags := o.pinChecks()
	for _, t := range tags {
		if hmac.Equal(t, tag) {
			return nil
		}
	}
	tags = append(tags, tag)
	if n := len(tags); n > MaxPinChecks {
		tags = tags[n-MaxPinChecks:]
	}
	var b []byte
	for _, t := range tags {
		b = hex.AppendEncode(b, t)
		b = append(b, '\n')
	}
	p, err := o.path(pinChecksFile)
	if err != nil {
		return err
	}
	if err := o.mkdirs("orgs", o.id); err != nil {
		return err
	}
	return privfile.WriteAtomicWith(p, b, privfile.Options{Private: true, NoDirSync: true})
}
