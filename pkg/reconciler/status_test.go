package reconciler

import (
	"errors"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/fleethub/fleethub/api/v1alpha1"
)

func TestStatusChanged(t *testing.T) {
	base := func() *v1alpha1.WebApp {
		a := &v1alpha1.WebApp{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", ResourceVersion: "7"}}
		a.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: "True", Reason: "Available",
			LastTransitionTime: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}}
		return a
	}
	tests := []struct {
		name   string
		mutate func(*v1alpha1.WebApp)
		want   bool
	}{
		{"identical", func(*v1alpha1.WebApp) {}, false},
		{"sub-second time difference is the same status", func(a *v1alpha1.WebApp) {
			a.Status.Conditions[0].LastTransitionTime = metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 5e8, time.UTC))
		}, false},
		{"metadata only", func(a *v1alpha1.WebApp) { a.Labels = map[string]string{"x": "y"} }, false},
		{"replicas", func(a *v1alpha1.WebApp) { a.Status.Replicas = 2 }, true},
		{"condition reason", func(a *v1alpha1.WebApp) { a.Status.Conditions[0].Reason = "Other" }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig, obj := base(), base()
			tc.mutate(obj)
			got, err := statusChanged(orig, obj)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("statusChanged = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestResult(t *testing.T) {
	resync := 10 * time.Minute
	other := errors.New("boom")
	tests := []struct {
		name      string
		err       error
		wantAfter time.Duration
		wantErr   bool
	}{
		{"success resyncs", nil, resync, false},
		{"status conflict requeues soon, quietly", fmt.Errorf("x: %w", ErrStatusConflict), ConflictRequeue, false},
		{"child conflict requeues soon, quietly", fmt.Errorf("x: %w", ErrChildChanged), ConflictRequeue, false},
		{"conflict joined with another error still requeues soon", errors.Join(other, fmt.Errorf("x: %w", ErrStatusConflict)), ConflictRequeue, false},
		{"terminal is returned", Terminal(other), 0, true},
		{"transient is returned for backoff", other, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Result(resync, tc.err)
			if (err != nil) != tc.wantErr || res.RequeueAfter != tc.wantAfter {
				t.Errorf("Result = %+v, %v; want RequeueAfter %v, error %v", res, err, tc.wantAfter, tc.wantErr)
			}
		})
	}
}

func TestTerminal(t *testing.T) {
	err := Terminal(errors.New("bad"))
	if !errors.Is(err, reconcile.TerminalError(nil)) || !IsTerminal(err) {
		t.Errorf("Terminal(...) = %v is not a reconcile.TerminalError", err)
	}
	if IsTerminal(errors.New("x")) || Terminal(nil) != nil {
		t.Error("plain errors and nil must not be terminal")
	}
	if Terminal(err) != err { //nolint:errorlint // identity: Terminal returns the terminal error itself
		t.Error("Terminal must not wrap twice")
	}
}
