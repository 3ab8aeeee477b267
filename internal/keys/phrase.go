package keys

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/tyler-smith/go-bip39"
	"github.com/tyler-smith/go-bip39/wordlists"
)

// PhraseWords is the number of words in a capy seed phrase (256 bits).
const PhraseWords = 24

// Phrase errors; ParsePhrase wraps them with the position of the problem.
var (
	ErrPhraseLength   = errors.New("seed phrase must have 24 words")
	ErrPhraseWord     = errors.New("word is not in the BIP-39 English list")
	ErrPhraseChecksum = errors.New("checksum does not match: a word is wrong or out of order")
)

var wordIndex = func() map[string]struct{} {
	m := make(map[string]struct{}, len(wordlists.English))
	for _, w := range wordlists.English {
		m[w] = struct{}{}
	}
	return m
}()

// NewPhrase returns a fresh 24-word BIP-39 English phrase from 256 bits of
// crypto/rand, in canonical form.
func NewPhrase() (string, error) {
	entropy := make([]byte, 32)
	if _, err := rand.Read(entropy); err != nil {
		return "", fmt.Errorf("read entropy: %w", err)
	}
	return PhraseFromEntropy(entropy)
}

// PhraseFromEntropy encodes 32 bytes of entropy as a canonical phrase.
func PhraseFromEntropy(entropy []byte) (string, error) {
	if len(entropy) != 32 {
		return "", fmt.Errorf("entropy must be 32 bytes, got %d", len(entropy))
	}
	p, err := bip39.NewMnemonic(entropy)
	if err != nil {
		return "", fmt.Errorf("encode phrase: %w", err)
	}
	return p, nil
}

// ParsePhrase canonicalises a typed phrase (any case, any white space
// between words) and verifies it: 24 words, each in the list, checksum
// correct. Errors name the first bad word by position, never the phrase.
func ParsePhrase(input string) (string, error) {
	words := strings.Fields(strings.ToLower(input))
	if len(words) != PhraseWords {
		return "", fmt.Errorf("%w, got %d", ErrPhraseLength, len(words))
	}
	for i, w := range words {
		if _, ok := wordIndex[w]; !ok {
			return "", fmt.Errorf("word %d %q: %w", i+1, w, ErrPhraseWord)
		}
	}
	canonical := strings.Join(words, " ")
	if _, err := bip39.EntropyFromMnemonic(canonical); err != nil {
		return "", ErrPhraseChecksum
	}
	return canonical, nil
}
