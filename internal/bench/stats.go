package bench

import (
	"slices"
	"time"
)

// median returns the middle of xs (the mean of the two middle values when
// their number is even), or 0 for none. xs is not changed.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ratios divides each a[i] by b[i]: one ratio per run, so that each run is
// compared with the baseline measured in the same run. Pairs with a zero
// baseline are left out.
func ratios(a, b []float64) []float64 {
	var out []float64
	for i := range min(len(a), len(b)) {
		if b[i] != 0 {
			out = append(out, a[i]/b[i])
		}
	}
	return out
}

// secsDuration turns seconds into a time.Duration.
func secsDuration(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
