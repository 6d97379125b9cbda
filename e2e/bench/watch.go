package bench

import (
	"context"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/fleethub/fleethub/e2e/framework"
)

// Resources the benchmark watches.
var (
	webAppsGVR        = schema.GroupVersionResource{Group: "app.54b3r.io", Version: "v1alpha1", Resource: "webapps"}
	simpleDBsGVR      = schema.GroupVersionResource{Group: "app.54b3r.io", Version: "v1alpha1", Resource: "simpledbs"}
	domainManagersGVR = schema.GroupVersionResource{Group: "app.54b3r.io", Version: "v1alpha1", Resource: "domainmanagers"}
	deploymentsGVR    = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

// tracker times objects from the moment their create call returned to the
// moment a watch in the member first saw them reach a state (Ready, or
// merely existing). Watch-observed times are exact to the millisecond, unlike
// creationTimestamp and lastTransitionTime, which the apiserver stores in
// whole seconds.
type tracker struct {
	mu      sync.Mutex
	created map[string]time.Time
	reached map[string]time.Time
	// first is when the first object was created; last is when the last
	// object reached the state.
	first, last time.Time
	changed     chan struct{}
}

func newTracker() *tracker {
	return &tracker{created: map[string]time.Time{}, reached: map[string]time.Time{}, changed: make(chan struct{}, 1)}
}

func trackKey(cluster, kind, namespace, name string) string {
	return cluster + "/" + kind + "/" + namespace + "/" + name
}

// Created records that key's create call returned at t.
func (t *tracker) Created(key string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.created[key] = at
	if t.first.IsZero() || at.Before(t.first) {
		t.first = at
	}
}

// Reached records the first time key was seen in the state.
func (t *tracker) Reached(key string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.reached[key]; ok {
		return
	}
	t.reached[key] = at
	if at.After(t.last) {
		t.last = at
	}
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// Counts returns how many tracked objects (created by us) reached the state.
func (t *tracker) Counts() (created, reached int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.created {
		if _, ok := t.reached[k]; ok {
			reached++
		}
	}
	return len(t.created), reached
}

// Latencies returns create→reached durations of the objects whose key
// starts with prefix ("" for all).
func (t *tracker) Latencies(match func(key string) bool) []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []time.Duration
	for k, c := range t.created {
		if match != nil && !match(k) {
			continue
		}
		if r, ok := t.reached[k]; ok {
			out = append(out, max(r.Sub(c), 0))
		}
	}
	return out
}

// Span is the time from the first create to the last object reaching the state.
func (t *tracker) Span() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.first.IsZero() || t.last.IsZero() {
		return 0
	}
	return t.last.Sub(t.first)
}

// watchReady starts an informer on a resource in one member's namespace and
// reports objects to t once ready says so. It runs until ctx ends; the
// returned function waits until the informer has synced.
func watchReady(ctx context.Context, t *tracker, cfg *rest.Config, cluster, kind string, gvr schema.GroupVersionResource, namespace, labelSelector string, ready func(*unstructured.Unstructured) bool) (func() bool, error) {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = 100, 200
	c.UserAgent = "fleethub-bench-watch"
	dyn, err := dynamic.NewForConfig(c)
	if err != nil {
		return nil, err
	}
	factory := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, namespace, func(o *metav1.ListOptions) {
		o.LabelSelector = labelSelector
	})
	inf := factory.ForResource(gvr).Informer()
	check := func(obj any) {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok || !ready(u) {
			return
		}
		t.Reached(trackKey(cluster, kind, u.GetNamespace(), u.GetName()), time.Now())
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    check,
		UpdateFunc: func(_, n any) { check(n) },
	}); err != nil {
		return nil, err
	}
	go inf.Run(ctx.Done())
	return func() bool { return cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) }, nil
}

// isReady is Ready=True on a fleethub object's status.
func isReady(u *unstructured.Unstructured) bool {
	c, ok := framework.Condition(u, "Ready")
	return ok && c["status"] == "True"
}

// exists is true for any object: the state is "the watch saw it".
func exists(*unstructured.Unstructured) bool { return true }
