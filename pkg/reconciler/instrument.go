package reconciler

// Instrumentation of one reconcile: a trace span carrying the member
// cluster, namespace and name, and the per-cluster reconcile metrics.

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/multicluster-runtime/pkg/multicluster"
	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"

	"github.com/fleethub/fleethub/pkg/metrics"
	"github.com/fleethub/fleethub/pkg/tracing"
)

// Instrument starts the reconcile span of kind for req. Call the returned
// function with the reconcile's outcome when it ends; it ends the span and
// counts the reconcile and its latency:
//
//	ctx, done := reconciler.Instrument(ctx, "WebApp", req)
//	defer func() { done(res, err) }()
//
// Phases of the reconcile (get, children, status, a DNS API call) are child
// spans: tracing.Start, ended with tracing.End.
func Instrument(ctx context.Context, kind string, req mcreconcile.Request) (context.Context, func(ctrl.Result, error)) {
	start := time.Now()
	cluster := req.ClusterName.String()
	ctx, span := tracing.Start(ctx, "Reconcile "+kind,
		attribute.String("fleethub.cluster", cluster),
		attribute.String("k8s.namespace.name", req.Namespace),
		attribute.String("fleethub.name", req.Name),
		attribute.String("fleethub.kind", kind))
	return ctx, func(_ ctrl.Result, err error) {
		if errors.Is(err, multicluster.ErrClusterNotFound) {
			// The member left the fleet; its series are gone and stay gone.
			tracing.End(span, nil)
			return
		}
		result := metrics.ResultSuccess
		if err != nil {
			result = metrics.ResultError
		}
		span.SetAttributes(attribute.String("fleethub.result", result))
		tracing.End(span, err)
		metrics.RecordReconcile(cluster, kind, result, time.Since(start).Seconds())
	}
}
