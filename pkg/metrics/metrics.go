// Package metrics holds fleethub's per-cluster object and reconcile metrics,
// served with controller-runtime's on the manager's /metrics endpoint.
//
// Controller-runtime already counts reconciles per controller; these add the
// member cluster, so one failing member stands out in a fleet of hundreds.
//
// The object gauges come from one inventory: reconciles record each object
// and whether it is ready (RecordObject, ForgetObject), a member's entries go
// when it leaves the fleet (ForgetCluster, wired to the member-left hook), and
// the gauges are counted from the inventory at scrape time, so they are exact
// and there is no series to forget to reset.
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
	reconciles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fleethub_reconcile_total",
		Help: "Reconciles by member cluster, kind and result (success, error).",
	}, []string{"cluster", "kind", "result"})
	duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "fleethub_reconcile_duration_seconds",
		Help:    "Reconcile latency by member cluster and kind.",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"cluster", "kind"})

	managedDesc = prometheus.NewDesc("fleethub_managed_objects",
		"fleethub objects (WebApp, SimpleDB, DomainManager) the hub manages, by member cluster and kind.", []string{"cluster", "kind"}, nil)
	readyDesc = prometheus.NewDesc("fleethub_ready_objects",
		"fleethub objects whose Ready condition is True, by member cluster and kind.", []string{"cluster", "kind"}, nil)
	// The SimpleDB counts again under the names the SimpleDB dashboards and
	// alerts (deploy/monitoring) were written against.
	simpleDBManagedDesc = prometheus.NewDesc("simpledb_managed_instances",
		"SimpleDBs fleethub manages, per member cluster.", []string{"cluster"}, nil)
	simpleDBReadyDesc = prometheus.NewDesc("simpledb_ready_instances",
		"SimpleDBs whose Ready condition is True, per member cluster.", []string{"cluster"}, nil)
)

// simpleDBKind is the kind whose counts are also exported under the simpledb_* names.
const simpleDBKind = "SimpleDB"

// objects is the process's inventory; every manager in the process (tests
// run several) records into it.
var objects = newInventory()

func init() {
	crmetrics.Registry.MustRegister(reconciles, duration, objects)
}

// RecordObject records that an object exists and whether it is ready.
func RecordObject(cluster, kind, key string, isReady bool) {
	objects.record(cluster, kind, key, isReady)
}

// ForgetObject records that an object is gone. Its kind's series stay, at
// the new count.
func ForgetObject(cluster, kind, key string) { objects.forget(cluster, kind, key) }

// ForgetCluster drops every series of a member that left the fleet.
func ForgetCluster(cluster string) {
	objects.forgetCluster(cluster)
	labels := prometheus.Labels{"cluster": cluster}
	reconciles.DeletePartialMatch(labels)
	duration.DeletePartialMatch(labels)
}

// RecordReconcile counts one reconcile and its latency.
func RecordReconcile(cluster, kind, result string, seconds float64) {
	reconciles.WithLabelValues(cluster, kind, result).Inc()
	duration.WithLabelValues(cluster, kind).Observe(seconds)
}

// inventory remembers, per cluster and kind, which objects exist and which
// are ready. A kind's series appear with its first recorded object, so a
// member without a kind's CRD reports nothing for it.
type inventory struct {
	mu sync.Mutex
	m  map[string]map[string]map[string]bool // cluster → kind → namespace/name → ready
}

func newInventory() *inventory {
	return &inventory{m: map[string]map[string]map[string]bool{}}
}

func (inv *inventory) record(cluster, kind, key string, isReady bool) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	byKind := inv.m[cluster]
	if byKind == nil {
		byKind = map[string]map[string]bool{}
		inv.m[cluster] = byKind
	}
	keys := byKind[kind]
	if keys == nil {
		keys = map[string]bool{}
		byKind[kind] = keys
	}
	keys[key] = isReady
}

func (inv *inventory) forget(cluster, kind, key string) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	delete(inv.m[cluster][kind], key)
}

func (inv *inventory) forgetCluster(cluster string) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	delete(inv.m, cluster)
}

// Describe implements prometheus.Collector.
func (inv *inventory) Describe(ch chan<- *prometheus.Desc) {
	ch <- managedDesc
	ch <- readyDesc
	ch <- simpleDBManagedDesc
	ch <- simpleDBReadyDesc
}

// Collect implements prometheus.Collector: each count is computed once and
// exported under every name it has.
func (inv *inventory) Collect(ch chan<- prometheus.Metric) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	for cluster, byKind := range inv.m {
		for kind, keys := range byKind {
			managed, ready := float64(len(keys)), 0.0
			for _, r := range keys {
				if r {
					ready++
				}
			}
			ch <- prometheus.MustNewConstMetric(managedDesc, prometheus.GaugeValue, managed, cluster, kind)
			ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, ready, cluster, kind)
			if kind == simpleDBKind {
				ch <- prometheus.MustNewConstMetric(simpleDBManagedDesc, prometheus.GaugeValue, managed, cluster)
				ch <- prometheus.MustNewConstMetric(simpleDBReadyDesc, prometheus.GaugeValue, ready, cluster)
			}
		}
	}
}
