package slip39

import (
	_ "embed" // the SLIP-39 word list
	"strings"
	"sync"
)

// wordlistText is the SLIP-39 word list, byte for byte the file of the
// specification (satoshilabs/slips slip-0039/wordlist.txt, as shipped by
// trezor/python-shamir-mnemonic; MIT licence, copyright SatoshiLabs: see
// wordlist-LICENSE). TestWordlistDigest checks its SHA-256,
// bcc4555340332d169718aed8bf31dd9d5248cb7da6e5d355140ef4f1e601eec3.
//
//go:embed wordlist.txt
var wordlistText string

// radixBits is the number of bits a word carries (1,024 words).
const radixBits = 10

// wordlist is the list and its index, built on first use: most capy
// commands never see a share.
var wordlist = sync.OnceValues(func() ([]string, map[string]int) {
	words := strings.Split(strings.TrimSuffix(wordlistText, "\n"), "\n")
	index := make(map[string]int, len(words))
	for i, w := range words {
		index[w] = i
	}
	return words, index
})
