package webapp

import (
	"errors"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleethub/fleethub/api/v1alpha1"
)

func dep(gen, observed int64, replicas, updated, available int32, conds ...appsv1.DeploymentCondition) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Generation: gen},
		Spec:       appsv1.DeploymentSpec{Replicas: &replicas},
		Status: appsv1.DeploymentStatus{
			ObservedGeneration: observed, Replicas: replicas, UpdatedReplicas: updated,
			AvailableReplicas: available, Conditions: conds,
		},
	}
}

func TestComputeStatus(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	two := func(a *v1alpha1.WebApp) { a.Spec.Replicas = ptr(int32(2)) }
	tests := []struct {
		name      string
		app       *v1alpha1.WebApp
		obs       statusInput
		ready     metav1.ConditionStatus
		reason    string
		available int32
		progress  metav1.ConditionStatus
		degraded  metav1.ConditionStatus
	}{
		{"no deployment yet", sample(two), statusInput{ServiceExists: true},
			metav1.ConditionFalse, v1alpha1.ReasonDeploymentMissing, 0, metav1.ConditionTrue, metav1.ConditionFalse},
		{"rolling out", sample(two), statusInput{Deployment: dep(2, 2, 2, 1, 1), ServiceExists: true},
			metav1.ConditionFalse, v1alpha1.ReasonReplicasUnavailable, 1, metav1.ConditionTrue, metav1.ConditionFalse},
		{"deployment controller behind", sample(two), statusInput{Deployment: dep(3, 2, 2, 2, 2), ServiceExists: true},
			metav1.ConditionFalse, v1alpha1.ReasonReplicasUnavailable, 2, metav1.ConditionTrue, metav1.ConditionFalse},
		{"available", sample(two), statusInput{Deployment: dep(2, 2, 2, 2, 2), ServiceExists: true},
			metav1.ConditionTrue, v1alpha1.ReasonAvailable, 2, metav1.ConditionFalse, metav1.ConditionFalse},
		{"available but service missing", sample(two), statusInput{Deployment: dep(2, 2, 2, 2, 2)},
			metav1.ConditionFalse, v1alpha1.ReasonReconciling, 2, metav1.ConditionFalse, metav1.ConditionFalse},
		{"scaled to zero", sample(func(a *v1alpha1.WebApp) { a.Spec.Replicas = ptr(int32(0)) }), statusInput{Deployment: dep(2, 2, 0, 0, 0), ServiceExists: true},
			metav1.ConditionTrue, v1alpha1.ReasonScaledToZero, 0, metav1.ConditionFalse, metav1.ConditionFalse},
		{"replicas left to an HPA follow the deployment", sample(), statusInput{Deployment: dep(2, 2, 5, 5, 5), ServiceExists: true},
			metav1.ConditionTrue, v1alpha1.ReasonAvailable, 5, metav1.ConditionFalse, metav1.ConditionFalse},
		{"apply failed", sample(two), statusInput{Deployment: dep(2, 2, 2, 2, 2), ServiceExists: true, ApplyErr: errors.New("boom")},
			metav1.ConditionFalse, v1alpha1.ReasonApplyFailed, 2, metav1.ConditionFalse, metav1.ConditionTrue},
		{"rollout stalled", sample(two), statusInput{ServiceExists: true, Deployment: dep(2, 2, 2, 1, 1, appsv1.DeploymentCondition{
			Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: "took too long"})},
			metav1.ConditionFalse, v1alpha1.ReasonRolloutStalled, 1, metav1.ConditionFalse, metav1.ConditionTrue},
		{"claim pending while pods unavailable", sample(two, func(a *v1alpha1.WebApp) {
			a.Spec.Storage = &v1alpha1.StorageSpec{Size: resource.MustParse("1Gi")}
		}), statusInput{Deployment: dep(2, 2, 2, 2, 0), ServiceExists: true, PVCPhase: corev1.ClaimPending},
			metav1.ConditionFalse, v1alpha1.ReasonReconciling, 0, metav1.ConditionTrue, metav1.ConditionFalse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := computeStatus(tc.app, tc.obs, now)
			ready := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady)
			if ready == nil || ready.Status != tc.ready || ready.Reason != tc.reason || ready.Message == "" {
				t.Errorf("Ready = %+v, want %s/%s with a message", ready, tc.ready, tc.reason)
			}
			if st.AvailableReplicas != tc.available {
				t.Errorf("availableReplicas = %d, want %d", st.AvailableReplicas, tc.available)
			}
			if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionProgressing); c == nil || c.Status != tc.progress {
				t.Errorf("Progressing = %+v, want %s", c, tc.progress)
			}
			if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionDegraded); c == nil || c.Status != tc.degraded {
				t.Errorf("Degraded = %+v, want %s", c, tc.degraded)
			}
			if st.ObservedGeneration != tc.app.Generation {
				t.Errorf("observedGeneration = %d", st.ObservedGeneration)
			}
			for _, c := range st.Conditions {
				if c.ObservedGeneration != tc.app.Generation {
					t.Errorf("condition %s observedGeneration = %d", c.Type, c.ObservedGeneration)
				}
			}
		})
	}
}

// Recomputing from the same observations must not change the status, or
// every resync would write it.
func TestComputeStatusIsStable(t *testing.T) {
	app := sample(func(a *v1alpha1.WebApp) { a.Spec.Replicas = ptr(int32(2)) })
	obs := statusInput{Deployment: dep(2, 2, 2, 2, 2), ServiceExists: true}
	app.Status = computeStatus(app, obs, metav1.NewTime(time.Unix(100, 0)))
	again := computeStatus(app, obs, metav1.NewTime(time.Unix(200, 0)))
	for i, c := range again.Conditions {
		if !c.LastTransitionTime.Equal(&app.Status.Conditions[i].LastTransitionTime) {
			t.Errorf("condition %s transition time moved without a transition", c.Type)
		}
	}
}
