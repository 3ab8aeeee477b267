package bench

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Series is the samples of one timed command.
type Series struct {
	Samples []time.Duration
	RSSKiB  []int64 // peak RSS of each run (rusage ru_maxrss, KiB)
}

// Median is the median sample (the mean of the two middle ones for an
// even count).
func (s Series) Median() time.Duration { return median(s.Samples) }

// Min is the fastest sample.
func (s Series) Min() time.Duration {
	if len(s.Samples) == 0 {
		return 0
	}
	return slices.Min(s.Samples)
}

// P90 is the 90th percentile sample (nearest rank).
func (s Series) P90() time.Duration { return percentile(s.Samples, 90) }

// PeakRSSKiB is the largest peak RSS over the runs.
func (s Series) PeakRSSKiB() int64 {
	if len(s.RSSKiB) == 0 {
		return 0
	}
	return slices.Max(s.RSSKiB)
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// percentile is the nearest-rank percentile p (0 < p ≤ 100) of d.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return percentileSorted(s, p)
}

func percentileSorted(s []time.Duration, p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}

// ms formats a duration in milliseconds with a precision that suits it.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

// mib formats KiB as MiB.
func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }
