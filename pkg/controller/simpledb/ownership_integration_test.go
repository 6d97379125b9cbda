package simpledb_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/cmd/manager/app/fleettest"
)

// withResync runs the rest of t against a manager whose resync is resync,
// and gives the later tests a manager like the suite's again.
func withResync(t *testing.T, resync time.Duration) {
	t.Helper()
	ctx := context.Background()
	restart := func(resync time.Duration) {
		t.Helper()
		fleettest.Must(t, mgr.Stop())
		cfg := fleettest.TestConfig()
		cfg.ResyncInterval = resync
		m, err := fleet.StartManager(cfg)
		fleettest.Must(t, err)
		mgr, suite.Manager = m, m
		fleettest.Must(t, mgr.WaitEngaged(ctx, suite.Members...))
	}
	restart(resync)
	t.Cleanup(func() { restart(fleettest.TestConfig().ResyncInterval) })
}

// A SimpleDB first, then a WebApp of the same name: the SimpleDB keeps all
// it has, the WebApp reports ChildConflict, nothing of either is lost.
func TestSimpleDBAndWebAppOfOneName(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "beta")
	c := fleet.Members["beta"].Client
	fleettest.Must(t, c.Create(ctx, simpleDB(ns, "both")))
	waitFor(t, "beta", ns, "both", &appsv1.Deployment{})
	waitFor(t, "beta", ns, "both", &corev1.Service{})
	db := get(t, "beta", ns, "both", &v1alpha1.SimpleDB{})

	app := &v1alpha1.WebApp{
		ObjectMeta: metav1.ObjectMeta{Name: "both", Namespace: ns},
		Spec:       v1alpha1.WebAppSpec{Image: "nginx:1.27", Port: 8080},
	}
	fleettest.Must(t, c.Create(ctx, app))
	eventually(t, func() error {
		get(t, "beta", ns, "both", app)
		r := condition2(app.Status.Conditions, v1alpha1.ConditionReady)
		if r.Reason != v1alpha1.ReasonChildConflict || !strings.Contains(r.Message, "Deployment both") || !strings.Contains(r.Message, "SimpleDB both") {
			return fmt.Errorf("WebApp Ready = %+v", r)
		}
		if s := condition2(app.Status.Conditions, v1alpha1.ConditionStalled); s.Status != metav1.ConditionTrue {
			return fmt.Errorf("WebApp Stalled = %+v", s)
		}
		return nil
	})
	// Once the SimpleDB has settled its children (a create is followed by an
	// apply that takes over its fields) nothing writes them any more.
	dep, svc := &appsv1.Deployment{}, &corev1.Service{}
	waitSettled(t, "beta", ns, "both", dep, svc)
	time.Sleep(2 * fleettest.TestConfig().ResyncInterval)
	for _, obj := range []client.Object{dep, svc} {
		now := obj.DeepCopyObject().(client.Object)
		get(t, "beta", ns, "both", now)
		if now.GetResourceVersion() != obj.GetResourceVersion() || len(now.GetOwnerReferences()) != 1 || !metav1.IsControlledBy(now, db) {
			t.Errorf("%T both changed: owners %v", now, now.GetOwnerReferences())
		}
	}
	fleettest.Must(t, c.Delete(ctx, app))
	eventually(t, func() error { return absent(ctx, "beta", ns, "both", &v1alpha1.WebApp{}) })
	if err := c.Get(ctx, key(ns, "both"), dep); err != nil || !dep.DeletionTimestamp.IsZero() {
		t.Errorf("deleting the WebApp touched the SimpleDB's Deployment: %v", err)
	}
	cleanup(t, "beta", ns, "both")
}

// Retained data of another PostgreSQL major is never adopted: PostgreSQL
// cannot open it, so no Deployment is made and the claim stays as it is.
func TestAdoptionOfAnotherMajorIsRefused(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "alpha")
	c := fleet.Members["alpha"].Client
	fleettest.Must(t, c.Create(ctx, simpleDB(ns, "legacy", func(d *v1alpha1.SimpleDB) { d.Spec.PostgresVersion = "16" })))
	waitFor(t, "alpha", ns, "legacy", &appsv1.Deployment{})
	claim := get(t, "alpha", ns, "legacy-data", &corev1.PersistentVolumeClaim{})
	if got := claim.Annotations[v1alpha1.AnnotationPostgresMajor]; got != "16" {
		t.Fatalf("claim records major %q", got)
	}
	fleettest.Must(t, c.Delete(ctx, simpleDB(ns, "legacy")))
	eventually(t, func() error {
		if err := absent(ctx, "alpha", ns, "legacy", &v1alpha1.SimpleDB{}); err != nil {
			return err
		}
		return absent(ctx, "alpha", ns, "legacy", &appsv1.Deployment{})
	})
	claim = get(t, "alpha", ns, "legacy-data", &corev1.PersistentVolumeClaim{})

	fleettest.Must(t, c.Create(ctx, simpleDB(ns, "legacy", func(d *v1alpha1.SimpleDB) { d.Spec.PostgresVersion = "18" })))
	db := waitCondition(t, "alpha", ns, "legacy", v1alpha1.ConditionStorageReady, metav1.ConditionFalse, v1alpha1.ReasonAdoptionRefused)
	if r := condition(db, v1alpha1.ConditionReady); r.Reason != v1alpha1.ReasonAdoptionRefused || !strings.Contains(r.Message, "PostgreSQL 16") {
		t.Errorf("Ready = %+v", r)
	}
	if s := condition(db, v1alpha1.ConditionStalled); s.Status != metav1.ConditionTrue {
		t.Errorf("Stalled = %+v", s)
	}
	time.Sleep(2 * fleettest.TestConfig().ResyncInterval)
	if err := absent(ctx, "alpha", ns, "legacy", &appsv1.Deployment{}); err != nil {
		t.Errorf("a Deployment was made for data of another major: %v", err)
	}
	now := get(t, "alpha", ns, "legacy-data", &corev1.PersistentVolumeClaim{})
	if now.UID != claim.UID || now.ResourceVersion != claim.ResourceVersion {
		t.Errorf("the refused claim was written")
	}
	cleanup(t, "alpha", ns, "legacy")
}

// A SimpleDB being deleted never gets new children, even when its data
// disappears while it waits on another finalizer.
func TestDeletingSimpleDBGetsNoNewChildren(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "alpha")
	c := fleet.Members["alpha"].Client
	const hold = "test.example.com/hold"
	fleettest.Must(t, c.Create(ctx, simpleDB(ns, "leaving", func(d *v1alpha1.SimpleDB) { d.Finalizers = []string{hold} })))
	waitFor(t, "alpha", ns, "leaving", &appsv1.Deployment{})
	fleettest.Must(t, c.Delete(ctx, simpleDB(ns, "leaving")))
	db := &v1alpha1.SimpleDB{}
	eventually(t, func() error {
		get(t, "alpha", ns, "leaving", db)
		if controllerutil.ContainsFinalizer(db, v1alpha1.Finalizer) {
			return fmt.Errorf("fleethub has not finalized yet")
		}
		return nil
	})
	// What a garbage collector (or a person) might do meanwhile.
	for _, obj := range []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "leaving-credentials", Namespace: ns}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "leaving-data", Namespace: ns}},
	} {
		fleettest.Must(t, c.Delete(ctx, obj))
	}
	eventually(t, func() error { return absent(ctx, "alpha", ns, "leaving-credentials", &corev1.Secret{}) })
	time.Sleep(2 * fleettest.TestConfig().ResyncInterval)
	if err := absent(ctx, "alpha", ns, "leaving-credentials", &corev1.Secret{}); err != nil {
		t.Errorf("a Secret was created for a SimpleDB being deleted: %v", err)
	}
	pvc := &corev1.PersistentVolumeClaim{}
	if err := c.Get(ctx, key(ns, "leaving-data"), pvc); err == nil && pvc.DeletionTimestamp.IsZero() {
		t.Errorf("a claim was created for a SimpleDB being deleted")
	}
	eventually(t, func() error { // the hub may write its status meanwhile
		get(t, "alpha", ns, "leaving", db)
		controllerutil.RemoveFinalizer(db, hold)
		return c.Update(ctx, db)
	})
	cleanup(t, "alpha", ns, "leaving")
}

// Drift of watched children is repaired by their watch events, not by the
// resync, which is far longer than the test's deadline here.
func TestDriftRepairedByWatches(t *testing.T) {
	setup(t)
	withResync(t, time.Hour)
	ctx := context.Background()
	ns := namespace(t, "beta")
	c := fleet.Members["beta"].Client
	fleettest.Must(t, c.Create(ctx, simpleDB(ns, "drift", func(d *v1alpha1.SimpleDB) { d.Spec.DeletionPolicy = v1alpha1.SimpleDBDelete })))
	dep := waitFor(t, "beta", ns, "drift", &appsv1.Deployment{})
	svc := waitFor(t, "beta", ns, "drift", &corev1.Service{})
	waitSettled(t, "beta", ns, "drift", dep, svc)
	image := dep.Spec.Template.Spec.Containers[0].Image

	// Image edited by hand → restored.
	dep.Spec.Template.Spec.Containers[0].Image = "evil:latest"
	fleettest.Must(t, c.Update(ctx, dep))
	eventually(t, func() error {
		d := get(t, "beta", ns, "drift", &appsv1.Deployment{})
		if got := d.Spec.Template.Spec.Containers[0].Image; got != image {
			return fmt.Errorf("image not restored: %s", got)
		}
		return nil
	})
	// Service deleted → re-created.
	fleettest.Must(t, c.Delete(ctx, svc))
	eventually(t, func() error {
		s := &corev1.Service{}
		if err := c.Get(ctx, key(ns, "drift"), s); err != nil {
			return err
		}
		if s.UID == svc.UID {
			return fmt.Errorf("Service not yet re-created")
		}
		return nil
	})
	// Credentials (owned: deletionPolicy Delete) deleted → re-created.
	_, uid := password(t, "beta", ns, "drift")
	fleettest.Must(t, c.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "drift-credentials", Namespace: ns}}))
	eventually(t, func() error {
		s := &corev1.Secret{}
		if err := c.Get(ctx, key(ns, "drift-credentials"), s); err != nil {
			return err
		}
		if s.UID == uid {
			return fmt.Errorf("Secret not yet re-created")
		}
		return nil
	})
	cleanup(t, "beta", ns, "drift")
}

// waitSettled waits until fleethub has settled each child (a create is
// followed by an apply that takes over its fields), so a test's own edit
// or snapshot does not race that apply; objs are left holding the result.
// Settling is two writes in a row (the created fields move to the apply
// manager, then the apply drops the defaults): settled means no created
// fields left and no write for a moment after.
func waitSettled(t *testing.T, member, ns, name string, objs ...client.Object) {
	t.Helper()
	eventually(t, func() error {
		versions := make([]string, len(objs))
		for i, obj := range objs {
			get(t, member, ns, name, obj)
			for _, m := range obj.GetManagedFields() {
				if m.Manager == "fleethub" && m.Operation != metav1.ManagedFieldsOperationApply {
					return fmt.Errorf("%T %s not settled yet: fleethub %s", obj, name, m.Operation)
				}
			}
			versions[i] = obj.GetResourceVersion()
		}
		time.Sleep(300 * time.Millisecond)
		for i, obj := range objs {
			if get(t, member, ns, name, obj).GetResourceVersion() != versions[i] {
				return fmt.Errorf("%T %s still being written", obj, name)
			}
		}
		return nil
	})
}

func condition2(conds []metav1.Condition, t string) metav1.Condition {
	for _, c := range conds {
		if c.Type == t {
			return c
		}
	}
	return metav1.Condition{}
}
