package keys_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tyler-smith/go-bip39"

	"github.com/capy-oss/capy/internal/keys"
)

func FuzzParsePhrase(f *testing.F) {
	for seed := range byte(3) {
		p := entropyPhrase(fixedEntropy(seed))
		f.Add(p)
		f.Add(strings.ToUpper(p))
		w := strings.Split(p, " ")
		w[0], w[1] = w[1], w[0]
		f.Add(strings.Join(w, "\t"))
	}
	f.Add("abandon abandon")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := keys.ParsePhrase(in)
		// go-bip39 (decision 35: the reference, not linked into capy)
		// decides the same on the same words: capy lowers case and wants
		// exactly 24 of them, go-bip39 takes 12 to 24 as they are.
		fields := strings.Fields(strings.ToLower(in))
		if ref := len(fields) == keys.PhraseWords && bip39.IsMnemonicValid(strings.Join(fields, " ")); ref != (err == nil) {
			t.Fatalf("ParsePhrase(%q): %v; go-bip39 accepts: %v", in, err, ref)
		}
		if err != nil {
			if got != "" {
				t.Fatal("phrase returned with an error")
			}
			if !errors.Is(err, keys.ErrPhraseLength) && !errors.Is(err, keys.ErrPhraseWord) && !errors.Is(err, keys.ErrPhraseChecksum) {
				t.Fatalf("ParsePhrase(%q): %v, not a phrase error", in, err)
			}
			// Refusal must be right: a plain ASCII input whose words form a
			// valid phrase (by the independent check) is accepted.
			if isASCII(in) && bip39Check(strings.Fields(strings.ToLower(in))) {
				t.Fatalf("valid phrase %q refused: %v", in, err)
			}
			return
		}
		words := strings.Split(got, " ")
		if !bip39Check(words) {
			t.Fatalf("ParsePhrase(%q) = %q, not a valid 24-word phrase", in, got)
		}
		if slices.Contains(words, "") || strings.ToLower(got) != got {
			t.Fatalf("ParsePhrase(%q) = %q, not canonical", in, got)
		}
		if again, err := keys.ParsePhrase(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q, %v", again, err)
		}
		// The phrase is the encoding of its entropy.
		entropy, err := bip39.EntropyFromMnemonic(got)
		if err != nil {
			t.Fatal(err)
		}
		if enc, err := keys.PhraseFromEntropy(entropy); err != nil || enc != got {
			t.Fatalf("PhraseFromEntropy(%x) = %q, %v; want %q", entropy, enc, err, got)
		}
	})
}

// FuzzPhraseFromEntropy: the encoder agrees with go-bip39 on every 32-byte
// entropy, and refuses every other length.
func FuzzPhraseFromEntropy(f *testing.F) {
	f.Add(make([]byte, 32))
	f.Add(slices.Repeat([]byte{0xff}, 32))
	f.Add(fixedEntropy(1))
	f.Add(make([]byte, 16))
	f.Fuzz(func(t *testing.T, entropy []byte) {
		got, err := keys.PhraseFromEntropy(entropy)
		if len(entropy) != 32 {
			if err == nil {
				t.Fatalf("PhraseFromEntropy accepted %d bytes", len(entropy))
			}
			return
		}
		want, refErr := bip39.NewMnemonic(entropy)
		if err != nil || refErr != nil || got != want {
			t.Fatalf("PhraseFromEntropy(%x) = %q, %v; go-bip39 %q, %v", entropy, got, err, want, refErr)
		}
		if again, err := keys.ParsePhrase(got); err != nil || again != got {
			t.Fatalf("ParsePhrase(own phrase) = %q, %v", again, err)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func FuzzParseEnvKeyFile(f *testing.F) {
	kf := keyFile()
	f.Add(kf.Encode())
	f.Add(strings.TrimSuffix(kf.Encode(), "\n"))
	f.Add(strings.TrimSuffix(kf.Encode(), "\n") + "\r\n")
	kf.Epoch = 1
	f.Add(kf.Encode())
	f.Add("capy-ek 1 " + envID + " 01 00")
	f.Fuzz(func(t *testing.T, in string) {
		kf, err := keys.ParseEnvKeyFile(in)
		if err != nil {
			return
		}
		enc := kf.Encode()
		// The only accepted spellings are the canonical line with LF, CRLF
		// or no final newline.
		line := strings.TrimSuffix(enc, "\n")
		if in != enc && in != line && in != line+"\r\n" {
			t.Fatalf("ParseEnvKeyFile(%q) accepted a non-canonical spelling of %q", in, enc)
		}
		if kf.Epoch == 0 {
			t.Fatal("epoch 0 accepted")
		}
		if again, err := keys.ParseEnvKeyFile(enc); err != nil || again != kf {
			t.Fatalf("re-parse: %v", err)
		}
	})
}
