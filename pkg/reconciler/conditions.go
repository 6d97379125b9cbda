package reconciler

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/api/v1alpha1"
)

// Setter is a fleethub CR whose status carries metav1.Conditions. The API
// types implement it, so the core reads and writes conditions of any kind.
type Setter interface {
	client.Object
	GetConditions() []metav1.Condition
	SetConditions([]metav1.Condition)
}

// Progress is where a reconcile left the CR, in Flux's vocabulary.
type Progress int

const (
	// Done: the spec is realised (or as close as the world allows right
	// now without anyone's help); neither Reconciling nor Stalled.
	Done Progress = iota
	// Reconciling: fleethub is still working towards the spec (children
	// being created, a rollout, a claim binding). kstatus: InProgress.
	Reconciling
	// Stalled: fleethub cannot make progress until someone else changes
	// something (the spec, a conflicting object). kstatus: Failed.
	Stalled
)

// String names the progress for logs and tests.
func (p Progress) String() string {
	switch p {
	case Reconciling:
		return v1alpha1.ConditionReconciling
	case Stalled:
		return v1alpha1.ConditionStalled
	}
	return "Done"
}

// SetProgress records p in conds with Flux's meta-condition semantics: the
// Reconciling or Stalled condition is present only while True and they never
// appear together. reason and message explain it (ignored for Done). Like
// conditions.Set, the transition time only moves when the status changes.
func SetProgress(conds *[]metav1.Condition, p Progress, reason, message string, generation int64, now metav1.Time) {
	set := func(typ string) {
		meta.SetStatusCondition(conds, metav1.Condition{
			Type: typ, Status: metav1.ConditionTrue, Reason: reason, Message: message,
			ObservedGeneration: generation, LastTransitionTime: now,
		})
	}
	switch p {
	case Reconciling:
		meta.RemoveStatusCondition(conds, v1alpha1.ConditionStalled)
		set(v1alpha1.ConditionReconciling)
	case Stalled:
		meta.RemoveStatusCondition(conds, v1alpha1.ConditionReconciling)
		set(v1alpha1.ConditionStalled)
	default:
		meta.RemoveStatusCondition(conds, v1alpha1.ConditionReconciling)
		meta.RemoveStatusCondition(conds, v1alpha1.ConditionStalled)
	}
	if len(*conds) == 0 {
		*conds = nil
	}
}

// ProgressOf reads back what SetProgress recorded.
func ProgressOf(conds []metav1.Condition) Progress {
	switch {
	case meta.IsStatusConditionTrue(conds, v1alpha1.ConditionStalled):
		return Stalled
	case meta.IsStatusConditionTrue(conds, v1alpha1.ConditionReconciling):
		return Reconciling
	}
	return Done
}
