package slip39

import (
	"bytes"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"testing"
)

// subsets calls f with every k-subset of 0…n−1 (as indexes, ascending)
// while there are at most limit of them, otherwise with limit random ones.
func subsets(rng *mathrand.Rand, n, k, limit int, f func([]int)) {
	if binomial(n, k) <= limit {
		pick := make([]int, k)
		var rec func(start, depth int)
		rec = func(start, depth int) {
			if depth == k {
				f(pick)
				return
			}
			for i := start; i <= n-(k-depth); i++ {
				pick[depth] = i
				rec(i+1, depth+1)
			}
		}
		rec(0, 0)
		return
	}
	for range limit {
		f(rng.Perm(n)[:k])
	}
}

func binomial(n, k int) int {
	r := 1
	for i := 1; i <= k; i++ {
		r = r * (n - k + i) / i
	}
	return r
}

// roundTrip re-reads a share from its words, as a holder would type it.
func roundTrip(t *testing.T, s Share) *Share {
	t.Helper()
	p, err := ParseShare(s.Mnemonic())
	if err != nil {
		t.Fatalf("a generated share does not parse: %v", err)
	}
	return p
}

// combineEMS combines the given shares in a random order at the layer
// under the passphrase (PBKDF2 is tested by the vectors and
// TestSplitCombine; here it would only cost time).
func combineEMS(rng *mathrand.Rand, shares []*Share) ([]byte, error) {
	var s Set
	for _, i := range rng.Perm(len(shares)) {
		if err := s.Add(shares[i]); err != nil {
			return nil, err
		}
	}
	return s.ems()
}

// TestPropertyOneGroup: for every T-of-N with 1 ≤ T ≤ N ≤ 16 (1-of-1 for
// T = 1), every T-subset of the shares recovers the secret and every
// (T−1)-subset is refused as incomplete (up to 300 subsets of each size
// per scheme, all of them where there are fewer).
func TestPropertyOneGroup(t *testing.T) {
	rng := mathrand.New(mathrand.NewPCG(1, 17))
	limit := 300
	if testing.Short() {
		limit = 20
	}
	for n := 1; n <= MaxShareCount; n++ {
		for k := 1; k <= n; k++ {
			if k == 1 && n > 1 {
				continue
			}
			ems := make([]byte, 16+2*rng.IntN(9))
			for i := range ems {
				ems[i] = byte(rng.Uint32())
			}
			id := uint16(rng.IntN(1 << 15))
			groups, err := splitEMS(newSeeded(byte(n*17+k)), ems, Scheme{GroupThreshold: 1, Groups: []Group{{k, n}}}, id, 0, n%2 == 0)
			if err != nil {
				t.Fatal(err)
			}
			shares := make([]*Share, n)
			for i := range groups[0] {
				shares[i] = roundTrip(t, groups[0][i])
			}
			subsets(rng, n, k, limit, func(pick []int) {
				sub := make([]*Share, len(pick))
				for i, p := range pick {
					sub[i] = shares[p]
				}
				got, err := combineEMS(rng, sub)
				if err != nil || !bytes.Equal(got, ems) {
					t.Fatalf("%d-of-%d, shares %v: %x, %v", k, n, pick, got, err)
				}
			})
			if k == 1 {
				continue
			}
			subsets(rng, n, k-1, limit, func(pick []int) {
				sub := make([]*Share, len(pick))
				for i, p := range pick {
					sub[i] = shares[p]
				}
				_, err := combineEMS(rng, sub)
				var inc *IncompleteError
				if !errors.As(err, &inc) || inc.Progress.Groups[0].Need-inc.Progress.Groups[0].Have != 1 {
					t.Fatalf("%d-of-%d, %d shares %v: %v, want incomplete by one", k, n, k-1, pick, err)
				}
			})
		}
	}
}

// TestPropertyGroups: random two-level schemes (up to 16 groups of up to
// 16 shares). Every choice of GT groups with T shares each recovers the
// secret (every group subset and random member subsets); one share fewer
// in any group, or one group fewer, is refused as incomplete.
func TestPropertyGroups(t *testing.T) {
	rng := mathrand.New(mathrand.NewPCG(2, 39))
	schemes, trials := 60, 40
	if testing.Short() {
		schemes, trials = 10, 5
	}
	for range schemes {
		g := 1 + rng.IntN(MaxShareCount)
		if rng.IntN(2) == 0 {
			g = 1 + rng.IntN(5) // small group counts, so every group subset is tried
		}
		scheme := Scheme{GroupThreshold: 1 + rng.IntN(g)}
		for range g {
			n := 1 + rng.IntN(MaxShareCount)
			k := 1 + rng.IntN(n)
			if k == 1 {
				n = 1
			}
			scheme.Groups = append(scheme.Groups, Group{k, n})
		}
		ems := make([]byte, 32)
		for i := range ems {
			ems[i] = byte(rng.Uint32())
		}
		split, err := splitEMS(newSeeded(byte(rng.Uint32())), ems, scheme, uint16(rng.IntN(1<<15)), rng.IntN(16), rng.IntN(2) == 0)
		if err != nil {
			t.Fatal(err)
		}
		shares := make([][]*Share, g)
		for gi := range split {
			for _, s := range split[gi] {
				shares[gi] = append(shares[gi], roundTrip(t, s))
			}
		}
		pickMembers := func(groups []int) []*Share {
			var out []*Share
			for _, gi := range groups {
				for _, m := range rng.Perm(scheme.Groups[gi].Count)[:scheme.Groups[gi].Threshold] {
					out = append(out, shares[gi][m])
				}
			}
			return out
		}
		name := fmt.Sprintf("scheme %v", scheme)
		subsets(rng, g, scheme.GroupThreshold, trials, func(groups []int) {
			got, err := combineEMS(rng, pickMembers(groups))
			if err != nil || !bytes.Equal(got, ems) {
				t.Fatalf("%s, groups %v: %x, %v", name, groups, got, err)
			}
			// One share fewer, taken from a random group.
			sub := pickMembers(groups)
			drop := rng.IntN(len(sub))
			sub = append(sub[:drop], sub[drop+1:]...)
			if _, err := combineEMS(rng, sub); !errors.Is(err, ErrIncomplete) {
				t.Fatalf("%s, groups %v less one share: %v, want incomplete", name, groups, err)
			}
		})
		if scheme.GroupThreshold > 1 {
			subsets(rng, g, scheme.GroupThreshold-1, trials, func(groups []int) {
				if _, err := combineEMS(rng, pickMembers(groups)); !errors.Is(err, ErrIncomplete) {
					t.Fatalf("%s, only groups %v: %v, want incomplete", name, groups, err)
				}
			})
		}
	}
}
