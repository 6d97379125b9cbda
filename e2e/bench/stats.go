package bench

import (
	"math"
	"slices"
	"strconv"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// Quantile returns the q-quantile (0..1) of samples by the nearest-rank
// method; 0 for no samples.
func Quantile(samples []time.Duration, q float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	rank := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

// Latencies summarises a set of durations.
type Latencies struct {
	Count int     `json:"count"`
	P50   Seconds `json:"p50Seconds"`
	P99   Seconds `json:"p99Seconds"`
	Max   Seconds `json:"maxSeconds"`
}

// Summarise computes count, p50, p99 and max.
func Summarise(samples []time.Duration) Latencies {
	return Latencies{
		Count: len(samples),
		P50:   Seconds(Quantile(samples, 0.50).Seconds()),
		P99:   Seconds(Quantile(samples, 0.99).Seconds()),
		Max:   Seconds(Quantile(samples, 1).Seconds()),
	}
}

// Seconds is a duration in seconds, rounded to milliseconds in JSON.
type Seconds float64

// MarshalJSON rounds to milliseconds.
func (s Seconds) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(math.Round(float64(s)*1000)/1000, 'f', -1, 64)), nil
}

// Histogram is a cumulative Prometheus histogram: counts per upper bound.
type Histogram struct {
	Bounds []float64
	Counts []uint64 // cumulative, one per bound
	Count  uint64   // all samples (the +Inf bucket)
}

// histogramOf copies a Prometheus histogram.
func histogramOf(h *dto.Histogram) Histogram {
	out := Histogram{Count: h.GetSampleCount()}
	for _, b := range h.GetBucket() {
		out.Bounds = append(out.Bounds, b.GetUpperBound())
		out.Counts = append(out.Counts, b.GetCumulativeCount())
	}
	return out
}

// Sub is the histogram of the samples observed since before.
func (h Histogram) Sub(before Histogram) Histogram {
	out := Histogram{Bounds: h.Bounds, Count: h.Count - before.Count, Counts: make([]uint64, len(h.Counts))}
	for i := range h.Counts {
		var b uint64
		if i < len(before.Counts) {
			b = before.Counts[i]
		}
		out.Counts[i] = h.Counts[i] - b
	}
	return out
}

// Add merges another histogram with the same buckets.
func (h Histogram) Add(o Histogram) Histogram {
	if len(h.Bounds) == 0 {
		return Histogram{Bounds: o.Bounds, Counts: slices.Clone(o.Counts), Count: o.Count}
	}
	out := Histogram{Bounds: h.Bounds, Count: h.Count + o.Count, Counts: slices.Clone(h.Counts)}
	for i := range out.Counts {
		if i < len(o.Counts) {
			out.Counts[i] += o.Counts[i]
		}
	}
	return out
}

// Quantile estimates the q-quantile the way Prometheus' histogram_quantile
// does: linear interpolation inside the bucket holding the rank. Samples
// above the last bound report that bound.
func (h Histogram) Quantile(q float64) float64 {
	if h.Count == 0 || len(h.Bounds) == 0 {
		return 0
	}
	rank := q * float64(h.Count)
	lower, below := 0.0, uint64(0)
	for i, upper := range h.Bounds {
		if float64(h.Counts[i]) >= rank {
			in := h.Counts[i] - below
			if in == 0 {
				return upper
			}
			return lower + (upper-lower)*(rank-float64(below))/float64(in)
		}
		lower, below = upper, h.Counts[i]
	}
	return h.Bounds[len(h.Bounds)-1]
}

// roundTo rounds v to digits decimal places.
func roundTo(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
