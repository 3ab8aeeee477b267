package slip39

import (
	"errors"
	"fmt"
	"strings"
)

// Errors of ParseShare; the error returned wraps one of them with the
// position of the problem (never a word of the share).
var (
	ErrLength      = errors.New("wrong number of words for a share")
	ErrUnknownWord = errors.New("word is not in the SLIP-39 word list")
	ErrChecksum    = errors.New("checksum does not match: a word is wrong, missing or out of order")
	ErrPadding     = errors.New("padding bits are not zero: a word is wrong")
	ErrParameters  = errors.New("impossible share parameters")
)

// Share is one SLIP-39 mnemonic share, decoded. Indexes are as stored (from
// 0); thresholds and counts are the actual numbers (from 1).
type Share struct {
	Identifier        uint16 // 15 bits, the same for every share of a set
	Extendable        bool
	IterationExponent int // 0–15: PBKDF2 runs 10000·2^e iterations in all
	GroupIndex        int // 0–15
	GroupThreshold    int // 1–16: groups needed
	GroupCount        int // 1–16
	MemberIndex       int // 0–15
	MemberThreshold   int // 1–16: members of this group needed
	Value             []byte
}

// Layout of a share in words: identifier, extendable flag and iteration
// exponent (20 bits, 2 words); group index, group threshold, group count,
// member index, member threshold (4 bits each, 2 words); the value,
// left-padded with zero bits to a multiple of 10; three check words.
const (
	idExpWords     = 2
	metadataWords  = idExpWords + 2 + checksumWords
	minSecretBytes = 16
	// MinShareWords is the length of a share of a 128-bit secret.
	MinShareWords = metadataWords + (minSecretBytes*8+radixBits-1)/radixBits
	// MaxShareCount bounds groups, and members in a group.
	MaxShareCount = 16
	// maxShareWords bounds what ParseShare reads (a 512-bit secret is 59
	// words); the standard sets no upper bound, capy needs 33.
	maxShareWords = 128
)

// SetID is the short name of the share set: the identifier as four hex
// digits. Every share of a set carries it (it is also what makes their
// first two words equal).
func (s *Share) SetID() string { return fmt.Sprintf("%04x", s.Identifier) }

// indexes returns the word indexes of the share, check words included.
func (s *Share) indexes() []int {
	var w bitWriter
	ext := 0
	if s.Extendable {
		ext = 1
	}
	w.put(int(s.Identifier&0x7fff), 15)
	w.put(ext, 1)
	w.put(s.IterationExponent&0xf, 4)
	w.put(s.GroupIndex&0xf, 4)
	w.put((s.GroupThreshold-1)&0xf, 4)
	w.put((s.GroupCount-1)&0xf, 4)
	w.put(s.MemberIndex&0xf, 4)
	w.put((s.MemberThreshold-1)&0xf, 4)
	valueWords := (len(s.Value)*8 + radixBits - 1) / radixBits
	w.put(0, valueWords*radixBits-len(s.Value)*8)
	for _, b := range s.Value {
		w.put(int(b), 8)
	}
	data := w.words()
	sum := rs1024Checksum(s.Extendable, data)
	return append(data, sum[:]...)
}

// Words returns the share's mnemonic words.
func (s *Share) Words() []string {
	list, _ := wordlist()
	idx := s.indexes()
	out := make([]string, len(idx))
	for i, n := range idx {
		out[i] = list[n]
	}
	return out
}

// Mnemonic returns the share as its words separated by single spaces.
func (s *Share) Mnemonic() string { return strings.Join(s.Words(), " ") }

// ParseShare decodes a mnemonic share: any case, any white space between
// the words. It checks the word list, the length, the checksum, the
// padding and that the group threshold does not exceed the group count.
// Errors name a word by its position only.
func ParseShare(mnemonic string) (*Share, error) {
	fields := strings.Fields(mnemonic)
	if len(fields) > maxShareWords {
		return nil, fmt.Errorf("%w: %d words; a share has at most %d", ErrLength, len(fields), maxShareWords)
	}
	if len(fields) < MinShareWords {
		return nil, fmt.Errorf("%w: %d words; a share has at least %d (33 for a 256-bit secret)", ErrLength, len(fields), MinShareWords)
	}
	// The value is a whole number of bytes, an even number of them, with at
	// most 8 bits of padding: 20 words (128 bits) and 33 (256 bits) are
	// lengths, 21 is not.
	padding := radixBits * (len(fields) - metadataWords) % 16
	if padding > 8 {
		return nil, fmt.Errorf("%w: %d words cannot be a share (20 for a 128-bit secret, 33 for 256 bits)", ErrLength, len(fields))
	}
	_, index := wordlist()
	idx := make([]int, len(fields))
	for i, f := range fields {
		n, ok := index[strings.ToLower(f)]
		if !ok {
			return nil, fmt.Errorf("word %d: %w", i+1, ErrUnknownWord)
		}
		idx[i] = n
	}
	r := bitReader{words: idx[:len(idx)-checksumWords]}
	s := &Share{Identifier: uint16(r.get(15))}
	s.Extendable = r.get(1) == 1
	if !rs1024Valid(s.Extendable, idx) {
		return nil, ErrChecksum
	}
	s.IterationExponent = r.get(4)
	s.GroupIndex = r.get(4)
	s.GroupThreshold = r.get(4) + 1
	s.GroupCount = r.get(4) + 1
	s.MemberIndex = r.get(4)
	s.MemberThreshold = r.get(4) + 1
	if s.GroupThreshold > s.GroupCount {
		return nil, fmt.Errorf("%w: group threshold %d is greater than the group count %d", ErrParameters, s.GroupThreshold, s.GroupCount)
	}
	if r.get(padding) != 0 {
		return nil, ErrPadding
	}
	s.Value = make([]byte, (radixBits*(len(fields)-metadataWords)-padding)/8)
	for i := range s.Value {
		s.Value[i] = byte(r.get(8))
	}
	return s, nil
}

// bitWriter packs big-endian bit fields into 10-bit words.
type bitWriter struct {
	out  []int
	acc  int
	bits int
}

func (w *bitWriter) put(v, n int) {
	for i := n - 1; i >= 0; i-- {
		w.acc = w.acc<<1 | v>>i&1
		w.bits++
		if w.bits == radixBits {
			w.out = append(w.out, w.acc)
			w.acc, w.bits = 0, 0
		}
	}
}

// words returns the packed words; the fields put must fill whole words.
func (w *bitWriter) words() []int { return w.out }

// bitReader reads big-endian bit fields from 10-bit words.
type bitReader struct {
	words []int
	pos   int // bit position
}

func (r *bitReader) get(n int) int {
	v := 0
	for range n {
		w := r.words[r.pos/radixBits]
		v = v<<1 | w>>(radixBits-1-r.pos%radixBits)&1
		r.pos++
	}
	return v
}
