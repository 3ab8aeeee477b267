package slip39

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

type vector struct {
	Description string
	Mnemonics   []string
	Secret      string
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw [][]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	out := make([]vector, len(raw))
	for i, r := range raw {
		if len(r) != 4 {
			t.Fatalf("vector %d has %d fields", i+1, len(r))
		}
		for j, dst := range []any{&out[i].Description, &out[i].Mnemonics, &out[i].Secret} {
			if err := json.Unmarshal(r[j], dst); err != nil {
				t.Fatalf("vector %d field %d: %v", i+1, j, err)
			}
		}
	}
	return out
}

// TestVectors runs every official vector: a valid one combines to its
// master secret under "TREZOR", an invalid one is refused, and for the
// reason its description gives.
func TestVectors(t *testing.T) {
	vs := loadVectors(t)
	if len(vs) != 45 {
		t.Fatalf("%d vectors, want the 45 of the reference", len(vs))
	}
	// The refusal each invalid vector must get, by the words of its
	// description.
	reasons := []struct {
		words string
		err   error
	}{
		{"invalid checksum", ErrChecksum},
		{"invalid padding", ErrPadding},
		{"different identifiers", ErrOtherSet},
		{"different iteration exponents", ErrOtherSet},
		{"mismatching group thresholds", ErrOtherSet},
		{"mismatching group counts", ErrOtherSet},
		{"greater group threshold than group counts", ErrParameters},
		{"duplicate member indices", ErrDuplicate},
		{"mismatching member thresholds", ErrOtherSet},
		{"invalid digest", ErrDigest},
		{"Insufficient number of groups", ErrIncomplete},
		{"insufficient number of members", ErrIncomplete},
		{"Basic sharing 2-of-3", ErrIncomplete}, // one share of a 2-of-3
		{"insufficient length", ErrLength},
		{"invalid master secret length", ErrLength},
	}
	valid, invalid := 0, 0
	for _, v := range vs {
		t.Run(v.Description, func(t *testing.T) {
			got, err := Combine(v.Mnemonics, []byte("TREZOR"))
			if v.Secret != "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if hex.EncodeToString(got) != v.Secret {
					t.Fatalf("secret %x, want %s", got, v.Secret)
				}
				valid++
				// The shares re-encode to the same words.
				for i, m := range v.Mnemonics {
					sh, err := ParseShare(m)
					if err != nil {
						t.Fatal(err)
					}
					if sh.Mnemonic() != m {
						t.Fatalf("share %d re-encodes as %q", i+1, sh.Mnemonic())
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, secret %x", got)
			}
			var want error
			for _, r := range reasons {
				if strings.Contains(v.Description, r.words) {
					want = r.err
					break
				}
			}
			if want == nil {
				t.Fatalf("no expected reason for this vector (refused with %v)", err)
			}
			if !errors.Is(err, want) {
				t.Fatalf("refused with %v, want %v", err, want)
			}
			invalid++
		})
	}
	t.Logf("%d valid vectors combined, %d invalid ones refused for their reason", valid, invalid)
	if valid+invalid != len(vs) {
		t.Fatalf("%d of %d vectors passed", valid+invalid, len(vs))
	}
}

// TestWordlistDigest: the embedded list is the specification's, byte for
// byte, and has 1,024 distinct words with unique four-letter prefixes.
func TestWordlistDigest(t *testing.T) {
	const want = "bcc4555340332d169718aed8bf31dd9d5248cb7da6e5d355140ef4f1e601eec3"
	if got := sha256.Sum256([]byte(wordlistText)); hex.EncodeToString(got[:]) != want {
		t.Fatalf("wordlist.txt SHA-256 %x, want %s", got, want)
	}
	list, index := wordlist()
	if len(list) != 1024 || len(index) != 1024 {
		t.Fatalf("%d words, %d distinct", len(list), len(index))
	}
	prefixes := map[string]bool{}
	for i, w := range list {
		if i > 0 && list[i-1] >= w {
			t.Fatalf("word %d %q out of order", i, w)
		}
		prefixes[w[:4]] = true
	}
	if len(prefixes) != 1024 {
		t.Fatal("four-letter prefixes are not unique")
	}
}
