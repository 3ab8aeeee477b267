package slip39

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func seedShares(f *testing.F) {
	for _, v := range loadVectors(f) {
		for _, m := range v.Mnemonics {
			f.Add(m)
			f.Add(strings.ToUpper(m))
			w := strings.Fields(m)
			w[2], w[3] = w[3], w[2]
			f.Add(strings.Join(w, "\t"))
			f.Add(strings.Join(w[:len(w)-1], " "))
		}
	}
	f.Add("")
	f.Add("academic")
}

// FuzzParseShare: ParseShare never panics, refuses only with its own
// errors, and what it accepts re-encodes to the canonical words of the
// input and parses again to the same share.
func FuzzParseShare(f *testing.F) {
	seedShares(f)
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseShare(in)
		if err != nil {
			if s != nil {
				t.Fatal("share returned with an error")
			}
			for _, e := range []error{ErrLength, ErrUnknownWord, ErrChecksum, ErrPadding, ErrParameters} {
				if errors.Is(err, e) {
					return
				}
			}
			t.Fatalf("ParseShare(%q): %v, not a share error", in, err)
		}
		if canon := strings.Join(strings.Fields(strings.ToLower(in)), " "); s.Mnemonic() != canon {
			t.Fatalf("ParseShare(%q) re-encodes as %q", in, s.Mnemonic())
		}
		if len(s.Value) < 16 || len(s.Value)%2 != 0 || s.GroupThreshold > s.GroupCount {
			t.Fatalf("accepted an impossible share: %+v", s)
		}
		again, err := ParseShare(s.Mnemonic())
		if err != nil || again.Mnemonic() != s.Mnemonic() {
			t.Fatalf("re-parse: %v", err)
		}
	})
}

// FuzzCombine: shares one a line are collected and combined (under the
// passphrase layer, so an iteration exponent of 15 costs nothing); it
// never panics, refuses only with the package's errors, and the order of
// the shares does not change the outcome.
func FuzzCombine(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(strings.Join(v.Mnemonics, "\n"))
	}
	f.Fuzz(func(t *testing.T, in string) {
		lines := strings.Split(in, "\n")
		if len(lines) > 40 {
			return
		}
		combine := func(order []string) ([]byte, error) {
			var s Set
			for _, l := range order {
				sh, err := ParseShare(l)
				if err != nil {
					return nil, err
				}
				if err := s.Add(sh); err != nil {
					return nil, err
				}
			}
			return s.ems()
		}
		got, err := combine(lines)
		if err != nil {
			known := false
			for _, e := range []error{ErrLength, ErrUnknownWord, ErrChecksum, ErrPadding, ErrParameters, ErrOtherSet, ErrDuplicate, ErrNotNeeded, ErrIncomplete, ErrDigest} {
				known = known || errors.Is(err, e)
			}
			if !known {
				t.Fatalf("combine: %v, not a share error", err)
			}
		}
		reversed := make([]string, len(lines))
		for i, l := range lines {
			reversed[len(lines)-1-i] = l
		}
		got2, err2 := combine(reversed)
		if (err == nil) != (err2 == nil) || !bytes.Equal(got, got2) {
			t.Fatalf("order changes the outcome: %x %v / %x %v", got, err, got2, err2)
		}
	})
}
