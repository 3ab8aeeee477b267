package keys_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/tyler-smith/go-bip39"
	"github.com/tyler-smith/go-bip39/wordlists"

	"github.com/capy-oss/capy/internal/keys"
)

// TestEmbeddedWordList: the embedded list is the specification's file and
// go-bip39's list, word for word.
func TestEmbeddedWordList(t *testing.T) {
	data, err := os.ReadFile("bip39-english.txt")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda" {
		t.Fatalf("bip39-english.txt SHA-256 = %s, not the BIP-39 english.txt", got)
	}
	if got := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n"); strings.Join(got, " ") != strings.Join(wordlists.English, " ") {
		t.Fatal("embedded word list differs from go-bip39's")
	}
}

// TestPhraseMatchesGoBip39: encoding and checking agree with go-bip39 on
// random entropy and on phrases with one word changed.
func TestPhraseMatchesGoBip39(t *testing.T) {
	for i := 0; i < 500; i++ {
		entropy := make([]byte, 32)
		if _, err := rand.Read(entropy); err != nil {
			t.Fatal(err)
		}
		want, err := bip39.NewMnemonic(entropy)
		if err != nil {
			t.Fatal(err)
		}
		got, err := keys.PhraseFromEntropy(entropy)
		if err != nil || got != want {
			t.Fatalf("PhraseFromEntropy = %q, %v; go-bip39 %q", got, err, want)
		}
		if c, err := keys.ParsePhrase(strings.ToUpper(got)); err != nil || c != want {
			t.Fatalf("ParsePhrase(valid) = %q, %v", c, err)
		}
		words := strings.Fields(got)
		words[i%24] = wordlists.English[(i*7919)%2048]
		changed := strings.Join(words, " ")
		_, ourErr := keys.ParsePhrase(changed)
		_, refErr := bip39.EntropyFromMnemonic(changed)
		if (ourErr == nil) != (refErr == nil) {
			t.Fatalf("%q: ParsePhrase %v, go-bip39 %v", changed, ourErr, refErr)
		}
	}
}
