// Package metrics holds fleethub's per-cluster object and reconcile metrics,
// served with controller-runtime's on the manager's /metrics endpoint.
//
// Controller-runtime already counts reconciles per controller; these add the
// member cluster, so one failing member stands out in a fleet of hundreds.
package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Reconcile results, the values of the result label.
const (
	ResultSuccess = "success"
	ResultError   = "error"
)

var (
	managed = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "fleethub_managed_objects",
		Help: "fleethub objects (WebApp, SimpleDB, DomainManager) the hub manages, by member cluster and kind.",
	}, []string{"cluster", "kind"})
	ready = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "fleethub_ready_objects",
		Help: "fleethub objects whose Ready condition is True, by member cluster and kind.",
	}, []string{"cluster", "kind"})
	reconciles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fleethub_reconcile_total",
		Help: "Reconciles by member cluster, kind and result (success, error).",
	}, []string{"cluster", "kind", "result"})
	duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "fleethub_reconcile_duration_seconds",
		Help:    "Reconcile latency by member cluster and kind.",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"cluster", "kind"})
)

func init() {
	crmetrics.Registry.MustRegister(managed, ready, reconciles, duration)
}

// objects remembers, per cluster and kind, which objects exist and which are
// ready, so the gauges are exact counts rather than drifting increments.
var objects = struct {
	sync.Mutex
	m map[string]map[string]map[string]bool // cluster → kind → namespace/name → ready
}{m: map[string]map[string]map[string]bool{}}

// Observe records that an object exists and whether it is ready.
func Observe(cluster, kind, key string, isReady bool) {
	objects.Lock()
	defer objects.Unlock()
	byKind := objects.m[cluster]
	if byKind == nil {
		byKind = map[string]map[string]bool{}
		objects.m[cluster] = byKind
	}
	keys := byKind[kind]
	if keys == nil {
		keys = map[string]bool{}
		byKind[kind] = keys
	}
	keys[key] = isReady
	publish(cluster, kind, keys)
}

// Forget records that an object is gone.
func Forget(cluster, kind, key string) {
	objects.Lock()
	defer objects.Unlock()
	keys := objects.m[cluster][kind]
	if keys == nil {
		return
	}
	delete(keys, key)
	publish(cluster, kind, keys)
}

// ForgetCluster drops every series of a member that left the fleet.
func ForgetCluster(cluster string) {
	objects.Lock()
	defer objects.Unlock()
	delete(objects.m, cluster)
	labels := prometheus.Labels{"cluster": cluster}
	managed.DeletePartialMatch(labels)
	ready.DeletePartialMatch(labels)
	reconciles.DeletePartialMatch(labels)
	duration.DeletePartialMatch(labels)
}

// ObserveReconcile counts one reconcile and its latency.
func ObserveReconcile(cluster, kind, result string, seconds float64) {
	reconciles.WithLabelValues(cluster, kind, result).Inc()
	duration.WithLabelValues(cluster, kind).Observe(seconds)
}

func publish(cluster, kind string, keys map[string]bool) {
	n := 0
	for _, r := range keys {
		if r {
			n++
		}
	}
	managed.WithLabelValues(cluster, kind).Set(float64(len(keys)))
	ready.WithLabelValues(cluster, kind).Set(float64(n))
}
