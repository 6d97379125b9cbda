//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/api/v1alpha1"
)

// disengageGrace is how long the hub may take to drop a member whose Secret
// is gone (it acts on the Secret's watch event, normally within a second).
const disengageGrace = 5 * time.Second

// TestUnregisteredMemberIsNotReconciled: once a member's Secret is gone the
// hub leaves its CRs alone — new ones are not picked up, changes to old ones
// are not applied — while the other member carries on. Registering it again
// catches up on both.
func TestUnregisteredMemberIsNotReconciled(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, alpha, beta)
	diagnoseOnFailure(t, webAppObject(beta, ns, "before"), webAppObject(beta, ns, "after"), webAppObject(alpha, ns, "elsewhere"))
	b := member(beta)
	if err := b.Create(ctx, webApp(ns, "before", 1)); err != nil {
		t.Fatal(err)
	}
	eventually(t, timeout, "beta: WebApp before Ready", webAppReady(beta, ns, "before", 1))

	if err := fleet.Unregister(ctx, beta); err != nil {
		t.Fatal(err)
	}
	registered := false
	t.Cleanup(func() {
		if !registered {
			if err := fleet.Register(context.Background(), beta); err != nil {
				t.Errorf("re-registering beta: %v", err)
			}
		}
	})
	time.Sleep(disengageGrace)

	if err := b.Create(ctx, webApp(ns, "after", 1)); err != nil {
		t.Fatal(err)
	}
	setReplicas(t, beta, ns, "before", 3)
	if err := member(alpha).Create(ctx, webApp(ns, "elsewhere", 1)); err != nil {
		t.Fatal(err)
	}
	eventually(t, timeout, "alpha keeps converging while beta is unregistered", webAppReady(alpha, ns, "elsewhere", 1))
	never(t, 15*time.Second, "beta's CRs untouched while unregistered", func(ctx context.Context) error {
		after := &v1alpha1.WebApp{}
		if err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: "after"}, after); err != nil {
			return err
		}
		if len(after.Finalizers) > 0 || len(after.Status.Conditions) > 0 {
			return fmt.Errorf("WebApp after was reconciled: finalizers %v, conditions %v", after.Finalizers, after.Status.Conditions)
		}
		if err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: "after"}, &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("WebApp after got a Deployment (err %w)", err)
		}
		dep := &appsv1.Deployment{}
		if err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: "before"}, dep); err != nil {
			return err
		}
		if *dep.Spec.Replicas != 1 {
			return fmt.Errorf("the Deployment of WebApp before was scaled to %d", *dep.Spec.Replicas)
		}
		return nil
	})

	if err := fleet.Register(ctx, beta); err != nil {
		t.Fatal(err)
	}
	registered = true
	eventually(t, timeout, "beta: WebApp after Ready once registered again", webAppReady(beta, ns, "after", 1))
	eventually(t, timeout, "beta: WebApp before scaled to 3 once registered again", webAppReady(beta, ns, "before", 3))
}

// TestMemberAPIServerDown: with one member's apiserver stopped the other
// member keeps converging at its normal pace, and when the apiserver comes
// back the hub resumes that member without a restart.
func TestMemberAPIServerDown(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, alpha, beta)
	diagnoseOnFailure(t, webAppObject(beta, ns, "steady"), webAppObject(alpha, ns, "during"))
	if err := member(beta).Create(ctx, webApp(ns, "steady", 1)); err != nil {
		t.Fatal(err)
	}
	eventually(t, timeout, "beta: WebApp steady Ready", webAppReady(beta, ns, "steady", 1))

	if err := fleet.Backend.StopAPIServer(ctx, fleet.Member(beta).BackendName); err != nil {
		t.Fatal(err)
	}
	stopped := true
	t.Cleanup(func() {
		if stopped {
			if err := fleet.Backend.StartAPIServer(context.Background(), fleet.Member(beta).BackendName); err != nil {
				t.Errorf("restarting beta's apiserver: %v", err)
			}
		}
	})

	// Long enough for the hub's probes to find beta unreachable.
	time.Sleep(5 * time.Second)
	start := time.Now()
	if err := member(alpha).Create(ctx, webApp(ns, "during", 2)); err != nil {
		t.Fatal(err)
	}
	eventually(t, timeout, "alpha: WebApp during Ready while beta is down", webAppReady(alpha, ns, "during", 2))
	setReplicas(t, alpha, ns, "during", 3)
	eventually(t, timeout, "alpha: WebApp during scaled to 3 while beta is down", webAppReady(alpha, ns, "during", 3))
	t.Logf("alpha converged twice in %s with beta's apiserver down", time.Since(start).Round(10*time.Millisecond))

	if err := fleet.Backend.StartAPIServer(ctx, fleet.Member(beta).BackendName); err != nil {
		t.Fatal(err)
	}
	stopped = false
	setReplicas(t, beta, ns, "steady", 2)
	eventually(t, timeout, "beta: WebApp steady scaled to 2 after its apiserver is back", webAppReady(beta, ns, "steady", 2))
}
