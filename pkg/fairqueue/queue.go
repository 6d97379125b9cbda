package fairqueue

import (
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"
)

// Queue is a rate-limiting work queue whose order is fair across lanes.
type Queue[T comparable] struct {
	workqueue.TypedRateLimitingInterface[T]
	lanes *lanes[T]
}

// Options configure New. Zero values take the workqueue's defaults.
type Options struct {
	// Name names the queue's metrics (the controller name); empty disables them.
	Name            string
	MetricsProvider workqueue.MetricsProvider
	Clock           clock.WithTicker
}

// New returns a queue with one lane per key(item), rate-limited by rl.
func New[T comparable](key func(T) string, rl workqueue.TypedRateLimiter[T], o Options) *Queue[T] {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	l := newLanes(key)
	base := workqueue.NewTypedWithConfig(workqueue.TypedQueueConfig[T]{
		Name: o.Name, MetricsProvider: o.MetricsProvider, Clock: o.Clock, Queue: l,
	})
	delaying := workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[T]{
		Name: o.Name, MetricsProvider: o.MetricsProvider, Clock: o.Clock, Queue: base,
	})
	return &Queue[T]{
		TypedRateLimitingInterface: workqueue.NewTypedRateLimitingQueueWithConfig(rl, workqueue.TypedRateLimitingQueueConfig[T]{
			Name: o.Name, MetricsProvider: o.MetricsProvider, Clock: o.Clock, DelayingQueue: delaying,
		}),
		lanes: l,
	}
}

// Done marks item finished: its lane has one item fewer in flight. An item
// added again meanwhile is queued again by the workqueue.
func (q *Queue[T]) Done(item T) {
	q.lanes.done(item)
	q.TypedRateLimitingInterface.Done(item)
}

// Lane reports the queued and in-flight items of one lane.
func (q *Queue[T]) Lane(key string) (queued, inflight int) { return q.lanes.stats(key) }

// Lanes is the number of lanes with queued or in-flight items.
func (q *Queue[T]) Lanes() int { return q.lanes.size() }

// ClusterOf is the lane of a multicluster request: its member cluster.
func ClusterOf(r mcreconcile.Request) string { return string(r.ClusterName) }

// NewClusterQueue is a controller-runtime NewQueue for multicluster
// controllers: lanes per member cluster, and a rate limiter of its own whose
// overall bucket is per member too (see ClusterRateLimiter). The limiter the
// controller passes in is ignored: its single bucket would let one member's
// failing items delay every other member's retries.
func NewClusterQueue(controllerName string, _ workqueue.TypedRateLimiter[mcreconcile.Request]) workqueue.TypedRateLimitingInterface[mcreconcile.Request] {
	return New(ClusterOf, ClusterRateLimiter(), Options{Name: controllerName})
}
