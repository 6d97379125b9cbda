package dns

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Operations counted by APICalls.
const (
	OpListZones    = "list_zones"
	OpListRecords  = "list_records"
	OpLookup       = "lookup_records"
	OpCreateRecord = "create_record"
	OpUpdateRecord = "update_record"
	OpDeleteRecord = "delete_record"
)

// APICalls counts requests to the DNS provider's API, by operation, status
// (success|failure) and the member cluster whose DomainManager the call served
// ("" for shared calls such as zone and record lists, which serve many).
var APICalls = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "domainmanager_api_calls_total",
	Help: "Requests to the DNS provider API by operation, status (success|failure) and the member cluster served (empty for shared calls).",
}, []string{"operation", "status", "cluster"})

// RateLimited counts the provider's rate-limit answers (HTTP 429) by
// operation; each is also a failure in APICalls.
var RateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "domainmanager_api_rate_limited_total",
	Help: "DNS provider API answers that rate-limited the hub (HTTP 429), by operation.",
}, []string{"operation"})

func init() {
	metrics.Registry.MustRegister(APICalls, RateLimited)
}

// CountAPICall counts one API call; cluster comes from ctx (see WithCluster)
// unless shared is true.
func CountAPICall(ctx context.Context, op string, shared bool, err error) {
	status := "success"
	if err != nil {
		status = "failure"
	}
	cluster := ""
	if !shared {
		cluster = ClusterFrom(ctx)
	}
	APICalls.WithLabelValues(op, status, cluster).Inc()
}

type clusterKey struct{}

// WithCluster tags ctx with the member cluster whose DomainManager is being
// served, for the cluster label of APICalls.
func WithCluster(ctx context.Context, cluster string) context.Context {
	return context.WithValue(ctx, clusterKey{}, cluster)
}

// ClusterFrom returns the cluster WithCluster put in ctx, or "".
func ClusterFrom(ctx context.Context) string {
	s, _ := ctx.Value(clusterKey{}).(string)
	return s
}
