package webapp

import (
	"errors"
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

// kstatus (what Flux, Argo CD-style health checks and kubectl tooling use)
// must read each WebApp state as the right verdict: Failed for the states
// only someone else can fix, InProgress while work remains, Current when done.
func TestKStatusVerdicts(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	two := func(a *v1alpha1.WebApp) { a.Spec.Replicas = ptr(int32(2)); a.Generation = 4 }
	invalid := apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, "x", nil)
	tests := []struct {
		name     string
		obs      statusInput
		progress reconciler.Progress
		verdict  status.Status
	}{
		{"available", statusInput{Deployment: dep(2, 2, 2, 2, 2), ServiceExists: true}, reconciler.Done, status.CurrentStatus},
		{"no deployment yet", statusInput{}, reconciler.Reconciling, status.InProgressStatus},
		{"rolling out", statusInput{Deployment: dep(2, 2, 2, 1, 1), ServiceExists: true}, reconciler.Reconciling, status.InProgressStatus},
		{"transient apply error", statusInput{Deployment: dep(2, 2, 2, 2, 2), ServiceExists: true, ApplyErr: errors.New("timeout")}, reconciler.Reconciling, status.InProgressStatus},
		{"child conflict", statusInput{Conflict: &reconciler.ConflictError{Kind: "Service", Name: "a", Holder: "Service owner"}}, reconciler.Stalled, status.FailedStatus},
		{"spec refused by the member", statusInput{ApplyErr: invalid}, reconciler.Stalled, status.FailedStatus},
		{"rollout past its deadline", statusInput{ServiceExists: true, Deployment: dep(2, 2, 2, 1, 1, appsv1.DeploymentCondition{
			Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"})}, reconciler.Stalled, status.FailedStatus},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app := sample(two)
			app.Status = computeStatus(app, tc.obs, metav1.NewTime(time.Unix(100, 0)))
			if got := reconciler.ProgressOf(app.Status.Conditions); got != tc.progress {
				t.Errorf("progress = %v, want %v (conditions %+v)", got, tc.progress, app.Status.Conditions)
			}
			if got := reconcilertest.KStatus(t, scheme, app); got.Status != tc.verdict {
				t.Errorf("kstatus = %s (%s), want %s", got.Status, got.Message, tc.verdict)
			}
		})
	}
	// A spec the hub has not seen yet is InProgress whatever the conditions say.
	app := sample(two)
	app.Status = computeStatus(app, statusInput{Deployment: dep(2, 2, 2, 2, 2), ServiceExists: true}, metav1.NewTime(time.Unix(100, 0)))
	app.Generation++
	if got := reconcilertest.KStatus(t, scheme, app); got.Status != status.InProgressStatus {
		t.Errorf("kstatus of an unobserved generation = %s", got.Status)
	}
}
