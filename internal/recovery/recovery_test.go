package recovery

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/slip39"
)

func newPhrase(t *testing.T) string {
	t.Helper()
	p, err := keys.NewPhrase()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKitRoundTrip: the shares of a kit, read back from their share files
// (comment lines and all), give the phrase again under the passphrase,
// and another phrase (no error) under another one.
func TestKitRoundTrip(t *testing.T) {
	phrase := newPhrase(t)
	scheme := slip39.Scheme{GroupThreshold: 2, Groups: []slip39.Group{{Threshold: 2, Count: 3}, {Threshold: 1, Count: 1}}}
	kit, err := NewKit(rand.Reader, phrase, scheme, []byte("tr0ub4dor"))
	if err != nil {
		t.Fatal(err)
	}
	if kit.Total() != 4 || len(kit.SetID) != 4 || kit.Scheme.String() != "2:2-of-3,1-of-1" {
		t.Fatalf("kit %+v", kit)
	}
	for i, s := range kit.Shares {
		if s.Number != i+1 || len(strings.Fields(s.Words)) != 33 {
			t.Fatalf("share %+v", s)
		}
	}
	kit.OrgID, kit.OrgName = "org_x", "Acme\n# forged line"
	file := func(n int) string { return FileText(kit, kit.Shares[n-1]) }
	if strings.Contains(file(1), "\n# forged") {
		t.Fatalf("the org name broke a comment line:\n%s", file(1))
	}
	if !strings.Contains(file(4), "group 2 of 2 (1 of its 1 shares needed), 2 of the 2 groups needed") {
		t.Fatalf("share file:\n%s", file(4))
	}
	var c Collector
	for _, n := range []int{3, 4, 1} {
		lines := ShareLines(file(n))
		if len(lines) != 1 {
			t.Fatalf("share file %d has %d share lines", n, len(lines))
		}
		if err := c.Add(lines[0]); err != nil {
			t.Fatal(err)
		}
	}
	if !c.Complete() || c.SetID() != kit.SetID {
		t.Fatalf("progress %v", c.Progress())
	}
	got, err := c.Phrase([]byte("tr0ub4dor"))
	if err != nil || got != phrase {
		t.Fatalf("phrase back %q, %v", got, err)
	}
	other, err := c.Phrase([]byte("tr0ub4dor!"))
	if err != nil || other == phrase {
		t.Fatalf("a wrong passphrase: %q, %v", other, err)
	}
	if _, err := keys.ParsePhrase(other); err != nil {
		t.Fatalf("a wrong passphrase still gives a valid phrase: %v", err)
	}
}

// TestCollectorRefusals: each refusal names the share's number (refused
// shares do not take a number) and the reason; the set is unchanged.
func TestCollectorRefusals(t *testing.T) {
	phrase := newPhrase(t)
	one := slip39.Scheme{GroupThreshold: 1, Groups: []slip39.Group{{Threshold: 2, Count: 3}}}
	kit, _ := NewKit(rand.Reader, phrase, one, nil)
	other, _ := NewKit(rand.Reader, phrase, one, nil)
	for other.SetID == kit.SetID {
		other, _ = NewKit(rand.Reader, phrase, one, nil)
	}
	var c Collector
	if err := c.Add(kit.Shares[0].Words); err != nil {
		t.Fatal(err)
	}
	if got := c.Progress().String(); got != "group 1: 1 of 2; 1 more" {
		t.Fatalf("progress %q", got)
	}
	words := strings.Fields(kit.Shares[1].Words)
	words[5], words[6] = words[6], words[5]
	flipped := strings.Join(words, " ")
	for _, tc := range []struct {
		text string
		err  error
	}{
		{kit.Shares[0].Words, slip39.ErrDuplicate},
		{other.Shares[1].Words, slip39.ErrOtherSet},
		{flipped, slip39.ErrChecksum},
		{"word " + kit.Shares[1].Words, slip39.ErrLength},
		{strings.Replace(kit.Shares[1].Words, words[0], "bitcoin", 1), slip39.ErrUnknownWord},
	} {
		err := c.Add(tc.text)
		var se *ShareError
		if !errors.As(err, &se) || se.Number != 2 || !errors.Is(err, tc.err) || !strings.HasPrefix(err.Error(), "share 2: ") {
			t.Fatalf("Add: %v, want share 2 refused with %v", err, tc.err)
		}
	}
	if c.Next() != 2 || c.Complete() {
		t.Fatal("a refused share changed the collector")
	}
	if _, err := c.Phrase(nil); !errors.Is(err, slip39.ErrIncomplete) || !strings.Contains(err.Error(), "1 more") {
		t.Fatalf("incomplete: %v", err)
	}
	if err := c.Add(kit.Shares[2].Words); err != nil || !c.Complete() {
		t.Fatal(err)
	}
	if err := c.Add(kit.Shares[1].Words); !errors.Is(err, slip39.ErrNotNeeded) {
		t.Fatalf("an extra share: %v", err)
	}
	if got, err := c.Phrase(nil); err != nil || got != phrase {
		t.Fatalf("%q %v", got, err)
	}
}

func TestCheckAndScheme(t *testing.T) {
	kit, err := NewKit(rand.Reader, newPhrase(t), slip39.Scheme{GroupThreshold: 1, Groups: []slip39.Group{{Threshold: 3, Count: 5}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	info, err := Check(kit.Shares[3].Words)
	if err != nil {
		t.Fatal(err)
	}
	want := Info{SetID: kit.SetID, Words: 33, Bits: 256, Group: 1, GroupCount: 1, GroupsNeeded: 1, Member: 4, MemberThreshold: 3, Extendable: true, IterationExponent: 1}
	if info != want {
		t.Fatalf("info %+v, want %+v", info, want)
	}
	if _, err := Check(strings.Repeat("academic ", 33)); !errors.Is(err, slip39.ErrChecksum) {
		t.Fatalf("%v", err)
	}
	for in, ok := range map[string]bool{"2-of-3": true, "1-of-1": true, "16-of-16": true, "3-of-2": false, "0-of-3": false, "2-of-17": false, "2of3": false, "two-of-three": false} {
		if _, err := ParseScheme(in); (err == nil) != ok {
			t.Errorf("ParseScheme(%q): %v", in, err)
		}
	}
	if _, err := NewKit(rand.Reader, "not a phrase", slip39.Scheme{GroupThreshold: 1, Groups: []slip39.Group{{Threshold: 1, Count: 1}}}, nil); !errors.Is(err, keys.ErrPhraseLength) {
		t.Fatalf("bad phrase: %v", err)
	}
	if lines := ShareLines("# a\n\n  one two \n#b\nthree\n"); strings.Join(lines, "|") != "one two|three" {
		t.Fatalf("lines %q", lines)
	}
}
