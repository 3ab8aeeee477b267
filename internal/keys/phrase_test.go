package keys_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/keys"
	"github.com/tyler-smith/go-bip39"
	"github.com/tyler-smith/go-bip39/wordlists"
)

// bip39Check is an independent BIP-39 check for 24-word phrases: 11 bits
// per word, 256 bits of entropy, 8 bits of SHA-256 checksum.
func bip39Check(words []string) bool {
	if len(words) != 24 {
		return false
	}
	var bits []byte // one bit per byte, simple on purpose
	for _, w := range words {
		i := slices.Index(wordlists.English, w)
		if i < 0 {
			return false
		}
		for b := 10; b >= 0; b-- {
			bits = append(bits, byte(i>>b)&1)
		}
	}
	entropy := make([]byte, 32)
	for i := range 256 {
		entropy[i/8] |= bits[i] << (7 - i%8)
	}
	var cs byte
	for i := range 8 {
		cs |= bits[256+i] << (7 - i)
	}
	return sha256.Sum256(entropy)[0] == cs
}

// entropyPhrase encodes entropy independently of the package.
func entropyPhrase(entropy []byte) string {
	sum := sha256.Sum256(entropy)
	data := append(slices.Clone(entropy), sum[0])
	words := make([]string, 24)
	for w := range 24 {
		idx := 0
		for b := range 11 {
			bit := w*11 + b
			idx = idx<<1 | int(data[bit/8]>>(7-bit%8)&1)
		}
		words[w] = wordlists.English[idx]
	}
	return strings.Join(words, " ")
}

func fixedEntropy(seed byte) []byte {
	e := make([]byte, 32)
	for i := range e {
		e[i] = seed*31 + byte(i)*17
	}
	return e
}

func TestWordlistIsBIP39English(t *testing.T) {
	if len(wordlists.English) != 2048 || wordlists.English[0] != "abandon" || wordlists.English[2047] != "zoo" {
		t.Fatal("unexpected BIP-39 English list")
	}
}

func TestPhraseFromEntropy(t *testing.T) {
	for seed := range byte(8) {
		e := fixedEntropy(seed)
		p, err := keys.PhraseFromEntropy(e)
		if err != nil {
			t.Fatal(err)
		}
		if want := entropyPhrase(e); p != want {
			t.Fatalf("PhraseFromEntropy(%x) = %q, want %q", e, p, want)
		}
		if got, err := keys.ParsePhrase(p); err != nil || got != p {
			t.Fatalf("ParsePhrase(own phrase) = %q, %v", got, err)
		}
	}
	// Edge entropies (leading zero bytes, all ones).
	for _, e := range [][]byte{make([]byte, 32), slices.Repeat([]byte{0xff}, 32), append(make([]byte, 31), 1)} {
		p, err := keys.PhraseFromEntropy(e)
		if err != nil || p != entropyPhrase(e) {
			t.Fatalf("PhraseFromEntropy(%x) = %q, %v", e, p, err)
		}
		if _, err := keys.ParsePhrase(p); err != nil {
			t.Fatalf("ParsePhrase(%q): %v", p, err)
		}
	}
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := keys.PhraseFromEntropy(make([]byte, n)); err == nil {
			t.Errorf("PhraseFromEntropy accepted %d bytes", n)
		}
	}
}

// TestEntropyFromPhrase: the entropy back from a phrase is go-bip39's
// (the independent reference) and gives the same phrase again; a bad
// phrase gives no entropy.
func TestEntropyFromPhrase(t *testing.T) {
	for seed := range byte(8) {
		e := fixedEntropy(seed)
		p := entropyPhrase(e)
		got, err := keys.EntropyFromPhrase(strings.ToUpper(p))
		if err != nil || !bytes.Equal(got, e) {
			t.Fatalf("EntropyFromPhrase(%q) = %x, %v; want %x", p, got, err, e)
		}
		ref, err := bip39.EntropyFromMnemonic(p)
		if err != nil || !bytes.Equal(ref, got) {
			t.Fatalf("go-bip39 says %x, %v", ref, err)
		}
		w := strings.Fields(p)
		if e, err := keys.EntropyFromPhrase(strings.Join(w[1:], " ")); e != nil || !errors.Is(err, keys.ErrPhraseLength) {
			t.Fatalf("23 words: %x, %v", e, err)
		}
		w[23] = "zoo"
		if w[23] == strings.Fields(p)[23] {
			w[23] = "abandon"
		}
		if e, err := keys.EntropyFromPhrase(strings.Join(w, " ")); e != nil || err == nil {
			t.Fatalf("last word changed: %x, %v", e, err)
		}
	}
}

func TestNewPhrase(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		p, err := keys.NewPhrase()
		if err != nil {
			t.Fatal(err)
		}
		words := strings.Split(p, " ")
		if len(words) != 24 || !bip39Check(words) {
			t.Fatalf("NewPhrase = %q: not 24 valid words", p)
		}
		if got, err := keys.ParsePhrase(p); err != nil || got != p {
			t.Fatalf("NewPhrase not canonical: %q, %v", got, err)
		}
		if seen[p] {
			t.Fatal("NewPhrase repeated a phrase")
		}
		seen[p] = true
	}
}

func TestParsePhraseCanonicalises(t *testing.T) {
	p := entropyPhrase(fixedEntropy(1))
	w := strings.Split(p, " ")
	variants := []string{
		p,
		strings.ToUpper(p),
		"  " + p + "  \n",
		strings.Join(w, "   "),
		strings.Join(w, "\t"),
		strings.Join(w, "\n"),
		strings.Join(w[:12], " ") + "\r\n" + strings.Join(w[12:], " "),
		strings.ToUpper(w[0][:1]) + p[1:],
	}
	for _, v := range variants {
		got, err := keys.ParsePhrase(v)
		if err != nil || got != p {
			t.Errorf("ParsePhrase(%q) = %q, %v; want %q", v, got, err, p)
		}
	}
}

func TestParsePhraseErrors(t *testing.T) {
	p := entropyPhrase(fixedEntropy(2))
	w := strings.Split(p, " ")
	replace := func(i int, word string) string {
		c := slices.Clone(w)
		c[i] = word
		return strings.Join(c, " ")
	}

	// Unknown word: the error names its position (1-based).
	for _, pos := range []int{1, 7, 24} {
		_, err := keys.ParsePhrase(replace(pos-1, "notaword"))
		if !errors.Is(err, keys.ErrPhraseWord) {
			t.Fatalf("unknown word at %d: %v", pos, err)
		}
		if want := "word " + strconv.Itoa(pos) + " "; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// A near miss and a word from another language are unknown too.
	for _, bad := range []string{w[6][:len(w[6])-1], "ábaco", "abandon1", ""} {
		if bad == "" {
			continue
		}
		if _, err := keys.ParsePhrase(replace(6, bad)); !errors.Is(err, keys.ErrPhraseWord) {
			t.Errorf("word %q: %v", bad, err)
		}
	}

	// Word count.
	for _, n := range []int{0, 1, 12, 23, 25, 48} {
		var in []string
		for i := range n {
			in = append(in, w[i%24])
		}
		_, err := keys.ParsePhrase(strings.Join(in, " "))
		if !errors.Is(err, keys.ErrPhraseLength) {
			t.Errorf("%d words: %v, want ErrPhraseLength", n, err)
		}
	}

	// Valid words in the wrong order fail the checksum. Pick adjacent pairs
	// the independent check says are invalid (a swap keeps the checksum
	// with probability 1/256).
	swaps := 0
	for i := 0; i+1 < 24 && swaps < 5; i++ {
		if w[i] == w[i+1] {
			continue
		}
		c := slices.Clone(w)
		c[i], c[i+1] = c[i+1], c[i]
		_, err := keys.ParsePhrase(strings.Join(c, " "))
		if bip39Check(c) {
			if err != nil {
				t.Errorf("swap %d/%d is a valid phrase but refused: %v", i, i+1, err)
			}
			continue
		}
		swaps++
		if !errors.Is(err, keys.ErrPhraseChecksum) {
			t.Errorf("swap of words %d and %d: %v, want ErrPhraseChecksum", i+1, i+2, err)
		}
	}
	if swaps == 0 {
		t.Fatal("no swap tested")
	}
	// Last word changed to another valid word: checksum.
	for _, alt := range []string{"zoo", "abandon", "wrong"} {
		c := replace(23, alt)
		if bip39Check(strings.Split(c, " ")) {
			continue
		}
		if _, err := keys.ParsePhrase(c); !errors.Is(err, keys.ErrPhraseChecksum) {
			t.Errorf("last word %q: %v", alt, err)
		}
	}
}

// The errors name a position; they never repeat the other words of the
// phrase.
func TestParsePhraseErrorsDoNotEchoPhrase(t *testing.T) {
	p := entropyPhrase(fixedEntropy(3))
	w := strings.Split(p, " ")
	c := slices.Clone(w)
	c[6] = "notaword"
	c2 := slices.Clone(w)
	c2[0], c2[1] = c2[1], c2[0]
	for _, in := range []string{strings.Join(c, " "), strings.Join(c2, " "), strings.Join(w[:23], " ")} {
		_, err := keys.ParsePhrase(in)
		if err == nil {
			t.Fatal("accepted")
		}
		for i := range 23 {
			if pair := w[i] + " " + w[i+1]; strings.Contains(err.Error(), pair) {
				t.Errorf("error %q repeats words %d-%d of the phrase", err, i+1, i+2)
			}
		}
	}
}
