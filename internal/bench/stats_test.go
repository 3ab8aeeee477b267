package bench

import (
	"testing"
	"time"
)

func TestMedianPercentile(t *testing.T) {
	d := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n)
		}
		return out
	}
	if got := median(d(5, 1, 3)); got != 3 {
		t.Errorf("median odd = %v", got)
	}
	if got := median(d(4, 1, 3, 2)); got != 2 {
		t.Errorf("median even = %v, want 2 (mean of 2 and 3, truncated)", got)
	}
	s := d(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 5}, {90, 9}, {99, 10}, {100, 10}, {1, 1}} {
		if got := percentile(s, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if median(nil) != 0 || percentile(nil, 50) != 0 {
		t.Error("empty input")
	}
}

func TestParseBenchLine(t *testing.T) {
	r, ok := parseBenchLine("BenchmarkParseRewrite/vars=10000-2   \t      10\t  20257756 ns/op\t  20.72 MB/s\t 4246016 B/op\t      57 allocs/op")
	if !ok || r.Name != "ParseRewrite/vars=10000" || r.NsPerOp != 20257756 || r.BytesPerOp != 4246016 || r.AllocsPerOp != 57 {
		t.Fatalf("got %+v %v", r, ok)
	}
	if _, ok := parseBenchLine("PASS"); ok {
		t.Error("PASS parsed as a benchmark")
	}
}
