package bench

import (
	"math"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		method, path, watch string
		want                RequestKey
	}{
		{"GET", "/apis/apps/v1/namespaces/ns/deployments", "", RequestKey{"list", "deployments"}},
		{"GET", "/apis/apps/v1/deployments", "true", RequestKey{"watch", "deployments"}},
		{"GET", "/apis/apps/v1/namespaces/ns/deployments/web", "", RequestKey{"get", "deployments"}},
		{"GET", "/api/v1/watch/namespaces/ns/secrets", "", RequestKey{"watch", "secrets"}},
		{"PATCH", "/apis/app.54b3r.io/v1alpha1/namespaces/ns/webapps/web/status", "", RequestKey{"patch", "webapps/status"}},
		{"POST", "/apis/events.k8s.io/v1/namespaces/ns/events", "", RequestKey{"create", "events"}},
		{"PUT", "/api/v1/namespaces/ns/secrets/s", "", RequestKey{"update", "secrets"}},
		{"DELETE", "/api/v1/namespaces/ns/services/s", "", RequestKey{"delete", "services"}},
		{"DELETE", "/api/v1/namespaces/ns/services", "", RequestKey{"deletecollection", "services"}},
		{"GET", "/api/v1/namespaces/ns", "", RequestKey{"get", "namespaces"}},
		{"GET", "/api/v1/namespaces", "", RequestKey{"list", "namespaces"}},
		{"GET", "/version", "", RequestKey{Verb: "discovery"}},
		{"GET", "/apis/app.54b3r.io/v1alpha1", "", RequestKey{Verb: "discovery"}},
		{"GET", "/api", "", RequestKey{Verb: "discovery"}},
	}
	for _, c := range cases {
		if got := Classify(c.method, c.path, c.watch); got != c.want {
			t.Errorf("Classify(%s %s watch=%q) = %+v, want %+v", c.method, c.path, c.watch, got, c.want)
		}
	}
}

func TestSnapshotSinceAndWrites(t *testing.T) {
	r := NewRequests()
	r.add("a", RequestKey{"list", "deployments"})
	before := r.Snapshot()
	r.add("a", RequestKey{"patch", "webapps/status"})
	r.add("b", RequestKey{"get", "secrets"})
	d := r.Snapshot().Since(before)
	if d.Total() != 2 || d.WriteCount() != 1 {
		t.Fatalf("total %d writes %d, want 2 and 1", d.Total(), d.WriteCount())
	}
	if w := d.Writes(); len(w) != 1 || w[0] != "patch webapps/status x1" {
		t.Fatalf("writes %v", w)
	}
	if v := d.ByVerb("b"); v["get"] != 1 || len(v) != 1 {
		t.Fatalf("by verb for b: %v", v)
	}
}

func TestQuantile(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	if got := Quantile(s, 0.5); got != 50*time.Millisecond {
		t.Errorf("p50 = %s", got)
	}
	if got := Quantile(s, 0.99); got != 99*time.Millisecond {
		t.Errorf("p99 = %s", got)
	}
	if got := Quantile(nil, 0.5); got != 0 {
		t.Errorf("empty p50 = %s", got)
	}
}

func TestHistogramQuantile(t *testing.T) {
	// 10 samples ≤ 0.1, 10 more ≤ 1: the median is the top of the first
	// bucket, p75 halfway into the second.
	h := Histogram{Bounds: []float64{0.1, 1}, Counts: []uint64{10, 20}, Count: 20}
	if got := h.Quantile(0.5); math.Abs(got-0.1) > 1e-9 {
		t.Errorf("p50 = %v", got)
	}
	if got := h.Quantile(0.75); math.Abs(got-0.55) > 1e-9 {
		t.Errorf("p75 = %v", got)
	}
	before := Histogram{Bounds: h.Bounds, Counts: []uint64{10, 10}, Count: 10}
	if d := h.Sub(before); d.Count != 10 || d.Counts[0] != 0 || d.Quantile(0.5) <= 0.1 {
		t.Errorf("difference %+v", d)
	}
}
