package fairqueue

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/client-go/util/workqueue"
	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"
)

// Defaults of controller-runtime's controller rate limiter.
const (
	baseDelay  = 5 * time.Millisecond
	maxDelay   = 1000 * time.Second
	bucketQPS  = 10
	bucketSize = 100
)

// ClusterRateLimiter is controller-runtime's default controller rate limiter
// (per-item exponential backoff, at most an overall token bucket) with one
// bucket per member instead of one for all: retries of a member whose items
// all fail wait on that member's bucket only.
func ClusterRateLimiter() workqueue.TypedRateLimiter[mcreconcile.Request] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[mcreconcile.Request](baseDelay, maxDelay),
		NewKeyedBucketRateLimiter(ClusterOf, rate.Limit(bucketQPS), bucketSize),
	)
}

// KeyedBucketRateLimiter is a token bucket per key(item).
type KeyedBucketRateLimiter[T comparable] struct {
	key   func(T) string
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// NewKeyedBucketRateLimiter returns a limiter with a bucket of limit/burst per key.
func NewKeyedBucketRateLimiter[T comparable](key func(T) string, limit rate.Limit, burst int) *KeyedBucketRateLimiter[T] {
	return &KeyedBucketRateLimiter[T]{key: key, limit: limit, burst: burst, buckets: map[string]*rate.Limiter{}}
}

// When reserves a token from item's bucket and returns how long to wait for it.
func (r *KeyedBucketRateLimiter[T]) When(item T) time.Duration {
	k := r.key(item)
	r.mu.Lock()
	b := r.buckets[k]
	if b == nil {
		b = rate.NewLimiter(r.limit, r.burst)
		r.buckets[k] = b
	}
	// Buckets that have refilled carry no state: drop them so keys that
	// come and go (removed members) leave nothing behind.
	for other, ob := range r.buckets {
		if other != k && ob.Tokens() >= float64(r.burst) {
			delete(r.buckets, other)
		}
	}
	r.mu.Unlock()
	return b.Reserve().Delay()
}

// NumRequeues is not tracked by a bucket.
func (r *KeyedBucketRateLimiter[T]) NumRequeues(T) int { return 0 }

// Forget is a no-op: a bucket refills with time, not per item.
func (r *KeyedBucketRateLimiter[T]) Forget(T) {}
