//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/e2e/framework"
)

func webApp(ns, name string, replicas int32) *v1alpha1.WebApp {
	return &v1alpha1.WebApp{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       v1alpha1.WebAppSpec{Image: fleet.Images.Web, Replicas: ptr(replicas), Port: 80},
	}
}

func webAppObject(m, ns, name string) framework.Object {
	return framework.Object{Cluster: m, Resource: "webapp", Namespace: ns, Name: name}
}

// webAppReady checks the WebApp reports Ready for its current generation with
// want replicas available, and that the Deployment really has them: the
// real controller manager made the pods and kwok (or a kubelet) ran them.
func webAppReady(m, ns, name string, want int32) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		c := member(m)
		app := &v1alpha1.WebApp{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, app); err != nil {
			return err
		}
		ready := meta.FindStatusCondition(app.Status.Conditions, v1alpha1.ConditionReady)
		if ready == nil || ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != app.Generation {
			return fmt.Errorf("%s: WebApp %s/%s not Ready for generation %d: %+v", m, ns, name, app.Generation, ready)
		}
		if app.Status.AvailableReplicas != want || app.Status.Replicas != want {
			return fmt.Errorf("%s: WebApp %s/%s status replicas %d/%d available, want %d", m, ns, name,
				app.Status.AvailableReplicas, app.Status.Replicas, want)
		}
		dep := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, dep); err != nil {
			return err
		}
		if dep.Spec.Replicas == nil || *dep.Spec.Replicas != want || dep.Status.AvailableReplicas != want {
			return fmt.Errorf("%s: Deployment %s/%s has %d of %v replicas available, want %d", m, ns, name,
				dep.Status.AvailableReplicas, dep.Spec.Replicas, want)
		}
		pods := &corev1.PodList{}
		if err := c.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelInstance: name}); err != nil {
			return err
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				running++
			}
		}
		if int32(running) != want {
			return fmt.Errorf("%s: %d pods of WebApp %s/%s running, want %d", m, running, ns, name, want)
		}
		return nil
	}
}

// TestWebAppReadyInEveryMember: the same WebApp applied in both members
// becomes Ready in each, with its children in its own member, owned by it.
func TestWebAppReadyInEveryMember(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, alpha, beta)
	for _, m := range []string{alpha, beta} {
		diagnoseOnFailure(t, webAppObject(m, ns, "hello"))
		if err := member(m).Create(ctx, webApp(ns, "hello", 2)); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []string{alpha, beta} {
		eventually(t, timeout, m+": WebApp hello Ready with 2 replicas", webAppReady(m, ns, "hello", 2))

		app := &v1alpha1.WebApp{}
		if err := member(m).Get(ctx, client.ObjectKey{Namespace: ns, Name: "hello"}, app); err != nil {
			t.Fatal(err)
		}
		for _, child := range []client.Object{&appsv1.Deployment{}, &corev1.Service{}} {
			if err := member(m).Get(ctx, client.ObjectKey{Namespace: ns, Name: "hello"}, child); err != nil {
				t.Fatalf("%s: %T hello: %v", m, child, err)
			}
			if !metav1.IsControlledBy(child, app) {
				t.Errorf("%s: %T hello is not controlled by its WebApp: %v", m, child, child.GetOwnerReferences())
			}
			if child.GetLabels()[v1alpha1.LabelManagedBy] != v1alpha1.ManagedByValue {
				t.Errorf("%s: %T hello lacks the managed-by label: %v", m, child, child.GetLabels())
			}
		}
	}
}

// TestWebAppScale: changing spec.replicas rolls through to running pods and
// back into the status, up and down to zero.
func TestWebAppScale(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, alpha)
	diagnoseOnFailure(t, webAppObject(alpha, ns, "scaled"))
	c := member(alpha)
	if err := c.Create(ctx, webApp(ns, "scaled", 1)); err != nil {
		t.Fatal(err)
	}
	eventually(t, timeout, "WebApp scaled Ready with 1 replica", webAppReady(alpha, ns, "scaled", 1))

	for _, n := range []int32{4, 2} {
		setReplicas(t, alpha, ns, "scaled", n)
		eventually(t, timeout, fmt.Sprintf("WebApp scaled Ready with %d replicas", n), webAppReady(alpha, ns, "scaled", n))
	}

	setReplicas(t, alpha, ns, "scaled", 0)
	eventually(t, timeout, "WebApp scaled to zero", func(ctx context.Context) error {
		app := &v1alpha1.WebApp{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "scaled"}, app); err != nil {
			return err
		}
		avail := meta.FindStatusCondition(app.Status.Conditions, v1alpha1.ConditionAvailable)
		if avail == nil || avail.Reason != v1alpha1.ReasonScaledToZero || app.Status.ObservedGeneration != app.Generation {
			return fmt.Errorf("Available = %+v", avail)
		}
		return webAppReady(alpha, ns, "scaled", 0)(ctx)
	})
}

func setReplicas(t *testing.T, m, ns, name string, n int32) {
	t.Helper()
	c := member(m)
	app := &v1alpha1.WebApp{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, app); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(app.DeepCopy())
	app.Spec.Replicas = ptr(n)
	if err := c.Patch(context.Background(), app, patch); err != nil {
		t.Fatal(err)
	}
}

// TestWebAppDriftRepaired: hand edits of what fleethub owns are undone, and
// deleted children come back, without any change to the WebApp.
func TestWebAppDriftRepaired(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, beta)
	diagnoseOnFailure(t, webAppObject(beta, ns, "drift"))
	c := member(beta)
	if err := c.Create(ctx, webApp(ns, "drift", 2)); err != nil {
		t.Fatal(err)
	}
	eventually(t, timeout, "WebApp drift Ready", webAppReady(beta, ns, "drift", 2))
	key := client.ObjectKey{Namespace: ns, Name: "drift"}

	// Someone scales the Deployment and swaps its image by hand.
	dep := &appsv1.Deployment{}
	if err := c.Get(ctx, key, dep); err != nil {
		t.Fatal(err)
	}
	dep.Spec.Replicas = ptr(int32(5))
	dep.Spec.Template.Spec.Containers[0].Image = "drifted:latest"
	if err := c.Update(ctx, dep); err != nil {
		t.Fatal(err)
	}
	eventually(t, timeout, "hand edits of the Deployment undone", func(ctx context.Context) error {
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, key, d); err != nil {
			return err
		}
		if img := d.Spec.Template.Spec.Containers[0].Image; img != fleet.Images.Web || *d.Spec.Replicas != 2 {
			return fmt.Errorf("Deployment has image %s and %d replicas", img, *d.Spec.Replicas)
		}
		return nil
	})
	eventually(t, timeout, "WebApp drift Ready again after the edit", webAppReady(beta, ns, "drift", 2))

	// Someone deletes the Service and the Deployment.
	for _, o := range []client.Object{&corev1.Service{}, &appsv1.Deployment{}} {
		if err := c.Get(ctx, key, o); err != nil {
			t.Fatal(err)
		}
		old := o.GetUID()
		if err := c.Delete(ctx, o, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
			t.Fatal(err)
		}
		eventually(t, timeout, fmt.Sprintf("deleted %T recreated", o), func(ctx context.Context) error {
			if err := c.Get(ctx, key, o); err != nil {
				if apierrors.IsNotFound(err) {
					return fmt.Errorf("%T not recreated yet", o)
				}
				return err
			}
			if o.GetUID() == old {
				return fmt.Errorf("%T still the old one (being deleted: %v)", o, o.GetDeletionTimestamp() != nil)
			}
			return nil
		})
	}
	eventually(t, timeout, "WebApp drift Ready again after deletions", webAppReady(beta, ns, "drift", 2))
}
