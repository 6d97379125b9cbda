package domainmanager

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
	"sigs.k8s.io/multicluster-runtime/pkg/multicluster"
	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"

	"github.com/fleethub/fleethub/pkg/dns"
)

// notifier queues reconcile requests from outside the watches (claim
// changes, credential rotation, policy changes) into the controller's queue.
// It never blocks and never drops: requests wait in a set until the
// controller has started.
type notifier struct {
	mu sync.Mutex
	// pending maps a request to its delay (0: at once).
	pending map[mcreconcile.Request]time.Duration
	signal  chan struct{}
}

func newNotifier() *notifier {
	return &notifier{pending: map[mcreconcile.Request]time.Duration{}, signal: make(chan struct{}, 1)}
}

func (n *notifier) add(keys ...dns.ClaimKey) { n.after(0, keys...) }

// after queues keys once d has passed (a terminal outcome's re-check).
func (n *notifier) after(d time.Duration, keys ...dns.ClaimKey) {
	if len(keys) == 0 {
		return
	}
	n.mu.Lock()
	for _, k := range keys {
		req := mcreconcile.Request{
			ClusterName: multicluster.ClusterName(k.Cluster),
			Request:     reconcile.Request{NamespacedName: types.NamespacedName{Namespace: k.Namespace, Name: k.Name}},
		}
		if cur, ok := n.pending[req]; !ok || d < cur {
			n.pending[req] = d
		}
	}
	n.mu.Unlock()
	select {
	case n.signal <- struct{}{}:
	default:
	}
}

// source feeds the controller's queue until the controller stops.
func (n *notifier) source() source.TypedSource[mcreconcile.Request] {
	return source.TypedFunc[mcreconcile.Request](func(ctx context.Context, q workqueue.TypedRateLimitingInterface[mcreconcile.Request]) error {
		go func() {
			for {
				n.mu.Lock()
				batch := n.pending
				n.pending = map[mcreconcile.Request]time.Duration{}
				n.mu.Unlock()
				for req, d := range batch {
					if d > 0 {
						q.AddAfter(req, d)
					} else {
						q.Add(req)
					}
				}
				select {
				case <-ctx.Done():
					return
				case <-n.signal:
				}
			}
		}()
		return nil
	})
}
