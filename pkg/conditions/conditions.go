// Package conditions holds the small helpers every kind uses to build its
// metav1.Condition list: stamping observedGeneration and transition times.
package conditions

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Set records c in conds. The transition time only moves when the status
// changes, so re-computing an unchanged status yields an identical list.
func Set(conds *[]metav1.Condition, c metav1.Condition, generation int64, now metav1.Time) {
	c.ObservedGeneration = generation
	c.LastTransitionTime = now
	meta.SetStatusCondition(conds, c)
}

// True builds a condition with status True.
func True(typ, reason, message string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: metav1.ConditionTrue, Reason: reason, Message: message}
}

// False builds a condition with status False.
func False(typ, reason, message string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: metav1.ConditionFalse, Reason: reason, Message: message}
}

// Unknown builds a condition with status Unknown.
func Unknown(typ, reason, message string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: metav1.ConditionUnknown, Reason: reason, Message: message}
}

// IsTrue reports whether the condition of type typ is True.
func IsTrue(conds []metav1.Condition, typ string) bool {
	return meta.IsStatusConditionTrue(conds, typ)
}

// Find returns the condition of type typ, or the zero condition.
func Find(conds []metav1.Condition, typ string) metav1.Condition {
	if c := meta.FindStatusCondition(conds, typ); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// DeploymentStalled reports a Deployment whose rollout exceeded its progress deadline.
func DeploymentStalled(dep *appsv1.Deployment) bool {
	for _, c := range dep.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
			return true
		}
	}
	return false
}

// DeploymentMessage is the message of the Deployment's condition of type t.
func DeploymentMessage(dep *appsv1.Deployment, t appsv1.DeploymentConditionType) string {
	for _, c := range dep.Status.Conditions {
		if c.Type == t {
			return c.Message
		}
	}
	return ""
}
