package simpledb

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/reconciler"
	"github.com/fleethub/fleethub/pkg/reconciler/reconcilertest"
)

// kstatus must read each SimpleDB state as the right verdict: Failed for the
// states only someone else can fix, InProgress while work remains, Current
// when PostgreSQL is available.
func TestKStatusVerdicts(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	invalid := apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, "order-db", nil)
	tests := []struct {
		name     string
		obs      statusInput
		progress reconciler.Progress
		verdict  status.Status
	}{
		{"available", healthy(), reconciler.Done, status.CurrentStatus},
		{"available, volume cannot grow", healthy(func(o *statusInput) {
			o.Storage = &problem{v1alpha1.ReasonExpansionNotSupported, "cannot grow"}
		}), reconciler.Done, status.CurrentStatus},
		{"nothing created yet", statusInput{}, reconciler.Reconciling, status.InProgressStatus},
		{"claim pending", healthy(func(o *statusInput) {
			o.Claim = claim(corev1.ClaimPending, "1Gi", "")
			o.Deployment = deployment(3, 3, 1, 1, 0)
		}), reconciler.Reconciling, status.InProgressStatus},
		{"pod not ready", healthy(func(o *statusInput) { o.Deployment = deployment(3, 3, 1, 1, 0) }), reconciler.Reconciling, status.InProgressStatus},
		{"foreign secret", statusInput{Credentials: &problem{v1alpha1.ReasonSecretConflict, "x"}, Conflict: secretConflict}, reconciler.Stalled, status.FailedStatus},
		{"claim of a WebApp", healthy(func(o *statusInput) { o.Conflict = claimConflict; o.Deployment = nil }), reconciler.Stalled, status.FailedStatus},
		{"retained claim of another major", healthy(func(o *statusInput) {
			o.Storage = &problem{v1alpha1.ReasonAdoptionRefused, "major 16"}
			o.Deployment = nil
		}), reconciler.Stalled, status.FailedStatus},
		{"secret without password", statusInput{Secret: secret, Credentials: &problem{v1alpha1.ReasonInvalidCredentials, "no password"}}, reconciler.Stalled, status.FailedStatus},
		{"spec refused by the member", healthy(func(o *statusInput) { o.ApplyErr = invalid }), reconciler.Stalled, status.FailedStatus},
		{"rollout past its deadline", healthy(func(o *statusInput) {
			o.Deployment = deployment(3, 3, 1, 1, 0, appsv1.DeploymentCondition{
				Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"})
		}), reconciler.Stalled, status.FailedStatus},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := sample(func(d *v1alpha1.SimpleDB) { d.Generation = 3 })
			db.Status = computeStatus(db, tc.obs, metav1.NewTime(time.Unix(100, 0)))
			if got := reconciler.ProgressOf(db.Status.Conditions); got != tc.progress {
				t.Errorf("progress = %v, want %v", got, tc.progress)
			}
			if got := reconcilertest.KStatus(t, scheme, db); got.Status != tc.verdict {
				t.Errorf("kstatus = %s (%s), want %s", got.Status, got.Message, tc.verdict)
			}
		})
	}
}
