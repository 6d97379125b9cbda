//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/e2e/framework"
)

// gcOutage is how long the hub stays away while the member's garbage
// collector works on the deleted SimpleDBs: far longer than it needs (it
// acts within a second or two).
const gcOutage = 25 * time.Second

type kept struct {
	claim, secret types.UID
	password      string
}

func keptData(ctx context.Context, m, ns, name string) (kept, error) {
	c := member(m)
	pvc := &corev1.PersistentVolumeClaim{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-data"}, pvc); err != nil {
		return kept{}, err
	}
	s := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-credentials"}, s); err != nil {
		return kept{}, err
	}
	for _, obj := range []client.Object{pvc, s} {
		if !obj.GetDeletionTimestamp().IsZero() {
			return kept{}, fmt.Errorf("%s is being deleted", obj.GetName())
		}
	}
	return kept{claim: pvc.UID, secret: s.UID, password: string(s.Data["password"])}, nil
}

// With deletionPolicy Retain the claim and the credentials Secret survive
// foreground, background and orphan deletion — with the member's real
// garbage collector, also while the hub is stopped for longer than the
// collector needs — and a re-created SimpleDB adopts them with the same
// password. deletionPolicy Delete still deletes.
func TestRetainSurvivesEveryPropagationPolicy(t *testing.T) {
	ctx := context.Background()
	const m = "beta"
	ns := newNamespace(t, m)
	c := member(m)
	policies := map[string]metav1.DeletionPropagation{
		"fg": metav1.DeletePropagationForeground,
		"bg": metav1.DeletePropagationBackground,
		"or": metav1.DeletePropagationOrphan,
	}
	names := []string{"up-fg", "down-fg", "down-bg", "down-or"}
	var objs []framework.Object
	for _, n := range names {
		objs = append(objs, framework.Object{Cluster: m, Resource: "simpledb", Namespace: ns, Name: n})
	}
	diagnoseOnFailure(t, objs...)

	scratch := simpleDB(ns, "scratch")
	_ = unstructured.SetNestedField(scratch.Object, "Delete", "spec", "deletionPolicy")
	for _, db := range append([]*unstructured.Unstructured{scratch}, dbs(ns, names)...) {
		if err := c.Create(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	data := map[string]kept{}
	for _, n := range append([]string{"scratch"}, names...) {
		eventually(t, 3*time.Minute, "SimpleDB "+n+" Ready", simpleDBReady(m, ns, n))
		k, err := keptData(ctx, m, ns, n)
		if err != nil {
			t.Fatal(err)
		}
		data[n] = k
	}
	del := func(name string, p metav1.DeletionPropagation) {
		t.Helper()
		db := &unstructured.Unstructured{}
		db.SetGroupVersionKind(framework.GVK("SimpleDB"))
		db.SetNamespace(ns)
		db.SetName(name)
		if err := c.Delete(ctx, db, client.PropagationPolicy(p)); err != nil {
			t.Fatal(err)
		}
	}
	gone := func(name string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			db := &unstructured.Unstructured{}
			db.SetGroupVersionKind(framework.GVK("SimpleDB"))
			err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, db)
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			return fmt.Errorf("SimpleDB %s still exists (finalizers %v)", name, db.GetFinalizers())
		}
	}
	same := func(name string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			now, err := keptData(ctx, m, ns, name)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if now != data[name] {
				return fmt.Errorf("%s: claim/Secret replaced or password changed", name)
			}
			return nil
		}
	}

	// Hub up: foreground (Argo CD's prune default); Delete still deletes.
	del("up-fg", metav1.DeletePropagationForeground)
	del("scratch", metav1.DeletePropagationForeground)
	eventually(t, time.Minute, "up-fg deleted", gone("up-fg"))
	eventually(t, time.Minute, "scratch deleted", gone("scratch"))
	eventually(t, 10*time.Second, "up-fg's data kept", same("up-fg"))
	eventually(t, time.Minute, "scratch's Secret deleted", func(ctx context.Context) error {
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "scratch-credentials"}, &corev1.Secret{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("scratch-credentials still there: %w", err)
	})

	// Hub stopped during the deletions, for longer than the collector needs.
	if err := fleet.StopManager(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = fleet.StartManager(context.Background())
		}
	})
	for _, n := range []string{"down-fg", "down-bg", "down-or"} {
		del(n, policies[n[len(n)-2:]])
	}
	// The collector did its part: the foreground-deleted SimpleDB lost its
	// Deployment, the orphan-deleted one's Deployment lost its owner.
	eventually(t, time.Minute, "the garbage collector acted", func(ctx context.Context) error {
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "down-fg"}, &appsv1.Deployment{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("down-fg's Deployment not yet collected: %w", err)
		}
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "down-or"}, d); err != nil {
			return err
		}
		if len(d.OwnerReferences) != 0 {
			return fmt.Errorf("down-or's Deployment not yet orphaned")
		}
		return nil
	})
	never(t, gcOutage, "retained data untouched while the hub is away", func(ctx context.Context) error {
		for _, n := range []string{"down-fg", "down-bg", "down-or"} {
			if err := same(n)(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err := fleet.StartManager(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	for _, n := range []string{"down-fg", "down-bg", "down-or"} {
		eventually(t, 2*time.Minute, n+" finalized after the hub returned", gone(n))
	}
	never(t, 5*time.Second, "retained data untouched after the hub returned", func(ctx context.Context) error {
		for _, n := range names {
			if err := same(n)(ctx); err != nil {
				return err
			}
		}
		return nil
	})

	// Re-created, it adopts the very claim and Secret, with the same password.
	if err := c.Create(ctx, simpleDB(ns, "down-fg")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Minute, "re-created down-fg Ready", simpleDBReady(m, ns, "down-fg"))
	if err := same("down-fg")(ctx); err != nil {
		t.Errorf("re-created SimpleDB did not adopt its data: %v", err)
	}
}

func dbs(ns string, names []string) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, 0, len(names))
	for _, n := range names {
		out = append(out, simpleDB(ns, n))
	}
	return out
}
