package keys

import (
	"crypto/rand"
	"crypto/sha256"
	_ "embed" // the BIP-39 English word list
	"errors"
	"fmt"
	"strings"
	"sync"
)

// PhraseWords is the number of words in a capy seed phrase (256 bits).
const PhraseWords = 24

// Phrase errors; ParsePhrase wraps them with the position of the problem.
var (
	ErrPhraseLength   = errors.New("seed phrase must have 24 words")
	ErrPhraseWord     = errors.New("word is not in the BIP-39 English list")
	ErrPhraseChecksum = errors.New("checksum does not match: a word is wrong or out of order")
)

// englishText is the BIP-39 English word list, byte for byte the file of
// the specification (bitcoin/bips bip-0039/english.txt, SHA-256
// 2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda; a test
// checks it against go-bip39's copy).
//
//go:embed bip39-english.txt
var englishText string

// english is the word list and its index, built on first use: most capy
// commands never see a phrase. capy does not link go-bip39, whose package
// init (nine languages' lists split and checksummed, the English index
// built) cost every command about 1.5 ms; go-bip39 is the tests' reference
// (docs/decisions.md, decision 35).
var english = sync.OnceValues(func() ([]string, map[string]int) {
	words := strings.Split(strings.TrimSuffix(englishText, "\n"), "\n")
	index := make(map[string]int, len(words))
	for i, w := range words {
		index[w] = i
	}
	return words, index
})

// NewPhrase returns a fresh 24-word BIP-39 English phrase from 256 bits of
// crypto/rand, in canonical form.
func NewPhrase() (string, error) {
	entropy := make([]byte, 32)
	if _, err := rand.Read(entropy); err != nil {
		return "", fmt.Errorf("read entropy: %w", err)
	}
	return PhraseFromEntropy(entropy)
}

// PhraseFromEntropy encodes 32 bytes of entropy as a canonical phrase
// (BIP-39: entropy || first 8 bits of SHA-256(entropy), cut into 24
// indexes of 11 bits, most significant first).
func PhraseFromEntropy(entropy []byte) (string, error) {
	if len(entropy) != 32 {
		return "", fmt.Errorf("entropy must be 32 bytes, got %d", len(entropy))
	}
	words, _ := english()
	sum := sha256.Sum256(entropy)
	bits := append(append(make([]byte, 0, 33), entropy...), sum[0])
	out := make([]string, PhraseWords)
	for i := range out {
		out[i] = words[bits11(bits, i)]
	}
	return strings.Join(out, " "), nil
}

// bits11 returns the i-th 11-bit group of b, most significant bit first.
func bits11(b []byte, i int) int {
	v := 0
	for k := i * 11; k < i*11+11; k++ {
		v = v<<1 | int(b[k/8]>>(7-k%8)&1)
	}
	return v
}

// ParsePhrase canonicalises a typed phrase (any case, any white space
// between words) and verifies it: 24 words, each in the list, checksum
// correct. Errors name the first bad word by position, never the phrase.
func ParsePhrase(input string) (string, error) {
	words, _, err := parsePhrase(input)
	if err != nil {
		return "", err
	}
	return strings.Join(words, " "), nil
}

// EntropyFromPhrase verifies a phrase as ParsePhrase does and returns its
// 32 bytes of entropy: what a recovery kit splits (SLIP-39 shares) and
// PhraseFromEntropy turns back into the phrase.
func EntropyFromPhrase(input string) ([]byte, error) {
	_, bits, err := parsePhrase(input)
	if err != nil {
		return nil, err
	}
	return bits[:32], nil
}

func parsePhrase(input string) ([]string, []byte, error) {
	words := strings.Fields(strings.ToLower(input))
	if len(words) != PhraseWords {
		return nil, nil, fmt.Errorf("%w, got %d", ErrPhraseLength, len(words))
	}
	_, index := english()
	// 24 words × 11 bits = 256 bits of entropy and an 8-bit checksum.
	bits := make([]byte, 33)
	for i, w := range words {
		n, ok := index[w]
		if !ok {
			return nil, nil, fmt.Errorf("word %d %q: %w", i+1, w, ErrPhraseWord)
		}
		for k := 0; k < 11; k++ {
			if n>>(10-k)&1 == 1 {
				pos := i*11 + k
				bits[pos/8] |= 1 << (7 - pos%8)
			}
		}
	}
	if sum := sha256.Sum256(bits[:32]); sum[0] != bits[32] {
		clear(bits)
		return nil, nil, ErrPhraseChecksum
	}
	return words, bits, nil
}
