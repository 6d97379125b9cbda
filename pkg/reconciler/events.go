package reconciler

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/apply"
)

// ReadyEvent records the one Event about a Ready transition: when Ready's
// status changes between the conditions before and after a status write.
// The very first report is announced only when it is Ready=True (a CR that
// is still being set up is not news); a change to anything but True is a
// Warning. Call it only after the status was written, so a conflicting
// (stale) reconcile announces nothing.
func ReadyEvent(rec events.EventRecorder, obj runtime.Object, before, after []metav1.Condition) {
	var was metav1.ConditionStatus
	if c := meta.FindStatusCondition(before, v1alpha1.ConditionReady); c != nil {
		was = c.Status
	}
	is := meta.FindStatusCondition(after, v1alpha1.ConditionReady)
	if is == nil || is.Status == was || (was == "" && is.Status != metav1.ConditionTrue) {
		return
	}
	typ := corev1.EventTypeNormal
	if is.Status != metav1.ConditionTrue {
		typ = corev1.EventTypeWarning
	}
	rec.Eventf(obj, nil, typ, is.Reason, "Ready", "Ready=%s: %s", is.Status, is.Message)
}

// ChildEvents batches what one reconcile created and updated into at most one
// Event of each. Several Events with the same reason in a burst would be
// merged into a series and patched later, which shows up as writes long
// after the object converged.
type ChildEvents struct {
	rec              events.EventRecorder
	obj              runtime.Object
	created, updated []string
}

// NewChildEvents batches Events about obj's children.
func NewChildEvents(rec events.EventRecorder, obj runtime.Object) *ChildEvents {
	return &ChildEvents{rec: rec, obj: obj}
}

// Report notes what applying one child did, and logs any change.
func (e *ChildEvents) Report(ctx context.Context, kind, name string, res apply.Result) {
	switch res {
	case apply.Created:
		e.created = append(e.created, kind+" "+name)
	case apply.Updated:
		e.updated = append(e.updated, kind+" "+name)
	default:
		return
	}
	ctrl.LoggerFrom(ctx).Info("Applied child", "child", kind+"/"+name, "result", res)
}

// Flush records the batched Events; call it once, at the end of the reconcile.
func (e *ChildEvents) Flush() {
	if len(e.created) > 0 {
		e.rec.Eventf(e.obj, nil, corev1.EventTypeNormal, "Created", "Apply", "Created %s", strings.Join(e.created, ", "))
	}
	if len(e.updated) > 0 {
		e.rec.Eventf(e.obj, nil, corev1.EventTypeNormal, "Updated", "Apply", "Updated %s to match the spec", strings.Join(e.updated, ", "))
	}
	e.created, e.updated = nil, nil
}

// StalledEvent records one Warning Event when the CR becomes Stalled, or
// stays Stalled for a different reason: a state that needs a human is
// announced once, not on every resync.
func StalledEvent(rec events.EventRecorder, obj runtime.Object, before, after []metav1.Condition) {
	is := meta.FindStatusCondition(after, v1alpha1.ConditionStalled)
	if is == nil || is.Status != metav1.ConditionTrue {
		return
	}
	if was := meta.FindStatusCondition(before, v1alpha1.ConditionStalled); was != nil &&
		was.Status == metav1.ConditionTrue && was.Reason == is.Reason {
		return
	}
	rec.Eventf(obj, nil, corev1.EventTypeWarning, is.Reason, "Reconcile", "Stalled: %s", is.Message)
}

// Announce records the Events of one status write: StalledEvent if it
// fires, else ReadyEvent — so a CR that turns Stalled (and with it
// Ready=False) gets one Warning, not two.
func Announce(rec events.EventRecorder, obj runtime.Object, before, after []metav1.Condition) {
	c := &countingRecorder{EventRecorder: rec}
	StalledEvent(c, obj, before, after)
	if c.n == 0 {
		ReadyEvent(rec, obj, before, after)
	}
}

type countingRecorder struct {
	events.EventRecorder
	n int
}

func (c *countingRecorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...interface{}) {
	c.n++
	c.EventRecorder.Eventf(regarding, related, eventtype, reason, action, note, args...)
}
