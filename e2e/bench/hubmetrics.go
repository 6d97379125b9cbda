package bench

import (
	dto "github.com/prometheus/client_model/go"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// hubMetrics is a reading of the in-process hub manager's own metrics (the
// registry its /metrics endpoint serves).
type hubMetrics struct {
	families map[string]*dto.MetricFamily
}

func gatherHubMetrics() hubMetrics {
	fams, _ := crmetrics.Registry.Gather()
	out := hubMetrics{families: map[string]*dto.MetricFamily{}}
	for _, f := range fams {
		out.families[f.GetName()] = f
	}
	return out
}

// matches reports whether a series has every given label value.
func matches(m *dto.Metric, labels map[string]string) bool {
	for k, v := range labels {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == k && l.GetValue() == v {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Sum adds up the counters or gauges of a family whose series match labels.
func (h hubMetrics) Sum(name string, labels map[string]string) float64 {
	f := h.families[name]
	if f == nil {
		return 0
	}
	total := 0.0
	for _, m := range f.GetMetric() {
		if !matches(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		}
	}
	return total
}

// Histogram merges the histograms of a family whose series match labels.
func (h hubMetrics) Histogram(name string, labels map[string]string) Histogram {
	var out Histogram
	f := h.families[name]
	if f == nil {
		return out
	}
	for _, m := range f.GetMetric() {
		if m.Histogram != nil && matches(m, labels) {
			out = out.Add(histogramOf(m.GetHistogram()))
		}
	}
	return out
}

// successfulReconciles is fleethub_reconcile_total{result="success"} for
// one member, all kinds. (A member's series are dropped when it leaves the
// fleet, and reconciles still queued for it then count as errors.)
func (f *fleet) successfulReconciles(cluster string) float64 {
	return f.hubMetrics().Sum("fleethub_reconcile_total", map[string]string{"cluster": cluster, "result": "success"})
}

// reconcilesByController is controller-runtime's
// controller_runtime_reconcile_total per controller, all results. Unlike
// fleethub_reconcile_total it covers every controller (the DomainManager
// controller does not report fleethub's per-member metrics).
func (f *fleet) reconcilesByController() map[string]float64 {
	out := map[string]float64{}
	fam := f.hubMetrics().families["controller_runtime_reconcile_total"]
	if fam == nil {
		return out
	}
	for _, m := range fam.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "controller" {
				out[l.GetValue()] += m.GetCounter().GetValue()
			}
		}
	}
	return out
}
