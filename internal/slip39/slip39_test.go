package slip39

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// seeded is a deterministic randomness source for tests.
type seeded struct{ r *mathrand.ChaCha8 }

func newSeeded(seed byte) *seeded {
	var s [32]byte
	s[0] = seed
	return &seeded{mathrand.NewChaCha8(s)}
}

func (s *seeded) Read(p []byte) (int, error) { return s.r.Read(p) }

func mustSplit(t testing.TB, secret []byte, scheme Scheme, opt Options) [][]Share {
	t.Helper()
	shares, err := Split(rand.Reader, secret, scheme, opt)
	if err != nil {
		t.Fatal(err)
	}
	return shares
}

func mnemonics(shares ...Share) []string {
	out := make([]string, len(shares))
	for i := range shares {
		out[i] = shares[i].Mnemonic()
	}
	return out
}

func TestSplitCombine(t *testing.T) {
	secret := bytes.Repeat([]byte{0xa5}, 32)
	for _, ext := range []bool{false, true} {
		t.Run(fmt.Sprintf("extendable=%v", ext), func(t *testing.T) {
			scheme := Scheme{GroupThreshold: 2, Groups: []Group{{2, 3}, {1, 1}, {3, 5}}}
			shares := mustSplit(t, secret, scheme, Options{Passphrase: []byte("correct horse"), IterationExponent: 1, Extendable: ext})
			for g, gs := range shares {
				if len(gs) != scheme.Groups[g].Count {
					t.Fatalf("group %d: %d shares", g+1, len(gs))
				}
				for _, s := range gs {
					if len(s.Words()) != 33 {
						t.Fatalf("a 256-bit share has %d words, want 33", len(s.Words()))
					}
				}
			}
			got, err := Combine(mnemonics(shares[0][2], shares[1][0], shares[0][0]), []byte("correct horse"))
			if err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("combine: %x, %v", got, err)
			}
			// A wrong passphrase is not detected here: it gives another secret.
			other, err := Combine(mnemonics(shares[0][2], shares[1][0], shares[0][0]), []byte("Correct horse"))
			if err != nil || bytes.Equal(other, secret) || len(other) != len(secret) {
				t.Fatalf("wrong passphrase: %x, %v", other, err)
			}
		})
	}
}

func TestParseShareErrors(t *testing.T) {
	shares := mustSplit(t, make([]byte, 16), Scheme{GroupThreshold: 1, Groups: []Group{{2, 3}}}, Options{})
	good := shares[0][0].Words()
	list, _ := wordlist()
	cases := []struct {
		name  string
		words func() []string
		err   error
		msg   string
	}{
		{"unknown word", func() []string { w := slices.Clone(good); w[4] = "bitcoin"; return w }, ErrUnknownWord, "word 5: "},
		{"flipped word", func() []string {
			w := slices.Clone(good)
			_, index := wordlist()
			w[7] = list[(index[w[7]]+1)%1024]
			return w
		}, ErrChecksum, ""},
		{"swapped words", func() []string { w := slices.Clone(good); w[5], w[6] = w[6], w[5]; return w }, ErrChecksum, ""},
		{"missing word", func() []string { return slices.Clone(good[:19]) }, ErrLength, "19 words"},
		{"extra word", func() []string { return append(slices.Clone(good), "academic") }, ErrLength, "21 words"},
		{"empty", func() []string { return nil }, ErrLength, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := strings.Join(c.words(), " ")
			_, err := ParseShare(in)
			if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("%v, want %v containing %q", err, c.err, c.msg)
			}
			// No word of the share is ever in an error.
			rest := strings.Replace(err.Error(), c.err.Error(), "", 1)
			for _, w := range good {
				if strings.Contains(rest, w) {
					t.Fatalf("error %q names a word of the share", err)
				}
			}
		})
	}
	// Case and white space do not matter.
	sh, err := ParseShare("  " + strings.ToUpper(strings.Join(good, " \t\n")) + "\n")
	if err != nil || sh.Mnemonic() != strings.Join(good, " ") {
		t.Fatalf("%v", err)
	}
	// The other format's checksum is refused: the flag is in the checksum.
	s := shares[0][0]
	s.Extendable = !s.Extendable
	w := s.Words()
	s.Extendable = !s.Extendable
	idx := s.indexes()
	copy(idx[len(idx)-3:], rs1024ChecksumIdx(w))
	if _, err := ParseShare(strings.Join(namesOf(idx), " ")); !errors.Is(err, ErrChecksum) {
		t.Fatalf("checksum of the other customization accepted: %v", err)
	}
}

func rs1024ChecksumIdx(words []string) []int {
	_, index := wordlist()
	out := make([]int, 3)
	for i, w := range words[len(words)-3:] {
		out[i] = index[w]
	}
	return out
}

func namesOf(idx []int) []string {
	list, _ := wordlist()
	out := make([]string, len(idx))
	for i, n := range idx {
		out[i] = list[n]
	}
	return out
}

func TestSetRefusals(t *testing.T) {
	scheme := Scheme{GroupThreshold: 2, Groups: []Group{{2, 3}, {1, 1}, {2, 2}}}
	a := mustSplit(t, make([]byte, 32), scheme, Options{})
	b := mustSplit(t, make([]byte, 32), scheme, Options{})
	for b[0][0].Identifier == a[0][0].Identifier {
		b = mustSplit(t, make([]byte, 32), scheme, Options{})
	}
	var s Set
	add := func(sh Share, want error, msg string) {
		t.Helper()
		before := s.Progress().String()
		err := s.Add(&sh)
		if !errors.Is(err, want) && !(want == nil && err == nil) || err != nil && !strings.Contains(err.Error(), msg) {
			t.Fatalf("Add: %v, want %v containing %q", err, want, msg)
		}
		if err != nil && s.Progress().String() != before {
			t.Fatal("a refused share changed the set")
		}
	}
	add(a[0][0], nil, "")
	if got := s.Progress().String(); got != "group 1: 1 of 2; 1 more, groups: 0 of 2 complete; shares of 1 more of the 3 groups needed" {
		t.Fatalf("progress %q", got)
	}
	add(b[0][1], ErrOtherSet, "from set "+b[0][0].SetID())
	add(a[0][0], ErrDuplicate, "group 1, share 1")
	add(a[0][2], nil, "")
	add(a[0][1], ErrNotNeeded, "group 1 already has its 2")
	add(a[2][0], nil, "")
	add(a[1][0], ErrNotNeeded, "shares of 2 groups were given")
	if _, err := s.ems(); !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "group 3: 1 of 2; 1 more") {
		t.Fatalf("incomplete set: %v", err)
	}
	add(a[2][1], nil, "")
	if !s.Progress().Complete() {
		t.Fatal("not complete")
	}
	got, err := s.Secret(nil)
	if err != nil || !bytes.Equal(got, make([]byte, 32)) {
		t.Fatalf("%x %v", got, err)
	}
	// A share whose value was changed (checksum recomputed: an attacker's
	// share) fails the digest.
	var bad Set
	forged := a[0][0]
	forged.Value = slices.Clone(forged.Value)
	forged.Value[3] ^= 1
	parsed, err := ParseShare(forged.Mnemonic())
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range []*Share{parsed, &a[0][1], &a[1][0]} {
		if err := bad.Add(sh); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bad.Secret(nil); !errors.Is(err, ErrDigest) {
		t.Fatalf("forged share: %v", err)
	}
	if _, err := s.Secret([]byte("caf\xc3\xa9")); !errors.Is(err, ErrPassphrase) {
		t.Fatalf("non-ASCII passphrase: %v", err)
	}
}

func TestSchemeCheck(t *testing.T) {
	for _, bad := range []Scheme{
		{GroupThreshold: 1},
		{GroupThreshold: 0, Groups: []Group{{1, 1}}},
		{GroupThreshold: 2, Groups: []Group{{1, 1}}},
		{GroupThreshold: 1, Groups: []Group{{3, 2}}},
		{GroupThreshold: 1, Groups: []Group{{0, 2}}},
		{GroupThreshold: 1, Groups: []Group{{2, 17}}},
		{GroupThreshold: 1, Groups: []Group{{1, 3}}},
		{GroupThreshold: 1, Groups: make([]Group, 17)},
	} {
		if err := bad.Check(); err == nil {
			t.Errorf("%v accepted", bad)
		}
		if _, err := Split(rand.Reader, make([]byte, 32), bad, Options{}); err == nil {
			t.Errorf("Split %v accepted", bad)
		}
	}
	if s := (Scheme{GroupThreshold: 2, Groups: []Group{{2, 3}, {1, 1}}}).String(); s != "2:2-of-3,1-of-1" {
		t.Fatal(s)
	}
	if s := (Scheme{GroupThreshold: 1, Groups: []Group{{2, 3}}}).String(); s != "2-of-3" {
		t.Fatal(s)
	}
	for _, n := range []int{0, 15, 17, 31, 66} {
		if _, err := Split(rand.Reader, make([]byte, n), Scheme{GroupThreshold: 1, Groups: []Group{{1, 1}}}, Options{}); err == nil {
			t.Errorf("%d-byte secret accepted", n)
		}
	}
	if _, err := Split(rand.Reader, make([]byte, 32), Scheme{GroupThreshold: 1, Groups: []Group{{1, 1}}}, Options{Passphrase: []byte("tab\t")}); !errors.Is(err, ErrPassphrase) {
		t.Errorf("control character in passphrase: %v", err)
	}
}

// TestGF256 checks the field against its definition: multiplication by
// the log/exp tables of generator 3 (the reference implementation's
// method), every product and every inverse.
func TestGF256(t *testing.T) {
	var exp [255]byte
	var log [256]int
	p := byte(1)
	for i := range 255 {
		exp[i] = p
		log[p] = i
		q := int(p)<<1 ^ int(p)
		if q&0x100 != 0 {
			q ^= 0x11b
		}
		p = byte(q)
	}
	for a := range 256 {
		for b := range 256 {
			want := byte(0)
			if a != 0 && b != 0 {
				want = exp[(log[a]+log[b])%255]
			}
			if got := mul(byte(a), byte(b)); got != want {
				t.Fatalf("%d·%d = %d, want %d", a, b, got, want)
			}
		}
		if a != 0 && mul(byte(a), inv(byte(a))) != 1 {
			t.Fatalf("inverse of %d", a)
		}
	}
}
