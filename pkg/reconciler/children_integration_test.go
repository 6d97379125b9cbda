package reconciler_test

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/fleethub/fleethub/cmd/manager/app"
	"github.com/fleethub/fleethub/cmd/manager/app/fleettest"
	"github.com/fleethub/fleethub/pkg/apply"
	"github.com/fleethub/fleethub/pkg/reconciler"
)

// member reads everything live: the tests are about what the apiserver holds.
type member struct{ c client.Client }

func (m member) GetClient() client.Client    { return m.c }
func (m member) GetAPIReader() client.Reader { return m.c }

func startAPIServer(t *testing.T) client.Client {
	t.Helper()
	assets, err := fleettest.BinaryAssets()
	fleettest.Must(t, err)
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	fleettest.Must(t, err)
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(cfg, client.Options{Scheme: app.Scheme()})
	fleettest.Must(t, err)
	return c
}

func TestEnsureChildOwnershipRules(t *testing.T) {
	c := startAPIServer(t)
	ctx := context.Background()
	m := member{c}
	ns := "default"
	// Any object can own; a ConfigMap keeps this test free of CRDs.
	owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner", Namespace: ns}}
	fleettest.Must(t, c.Create(ctx, owner))
	ref := metav1ac.OwnerReference().WithAPIVersion("v1").WithKind("ConfigMap").WithName(owner.Name).WithUID(owner.UID).WithController(true)
	desired := func(name, value string) *corev1ac.ServiceApplyConfiguration {
		svc := corev1ac.Service(name, ns).WithOwnerReferences(ref).
			WithSpec(corev1ac.ServiceSpec().WithPorts(corev1ac.ServicePort().WithPort(80)))
		if value != "" {
			svc.WithLabels(map[string]string{"v": value})
		}
		return svc
	}
	ensure := func(o client.Object, name, value string) (*corev1.Service, apply.Result, error) {
		return reconciler.EnsureChild(ctx, m, o, reconciler.Child[*corev1.Service, *corev1ac.ServiceApplyConfiguration]{
			Kind: "Service", Key: client.ObjectKey{Namespace: ns, Name: name}, Desired: desired(name, value),
			Extract: corev1ac.ExtractService, New: func() *corev1.Service { return &corev1.Service{} },
		})
	}

	// Absent → created, ours.
	svc, res, err := ensure(owner, "ours", "1")
	fleettest.Must(t, err)
	if res != apply.Created || !metav1.IsControlledBy(svc, owner) {
		t.Fatalf("absent child: result %s, owners %v", res, svc.OwnerReferences)
	}
	// The first apply after the create only takes the fields over; then
	// nothing is written at all.
	for i, want := range []apply.Result{apply.Unchanged, apply.Unchanged} {
		_, res, err = ensure(owner, "ours", "1")
		fleettest.Must(t, err)
		if res != want {
			t.Errorf("call %d: result %s, want %s", i, res, want)
		}
	}
	before := &corev1.Service{}
	fleettest.Must(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ours"}, before))
	if _, res, _ = ensure(owner, "ours", "1"); res != apply.Unchanged {
		t.Errorf("converged child: result %s", res)
	}
	after := &corev1.Service{}
	fleettest.Must(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ours"}, after))
	if after.ResourceVersion != before.ResourceVersion {
		t.Errorf("a converged child was written")
	}
	// Ours and changed spec → updated.
	if _, res, err = ensure(owner, "ours", "2"); err != nil || res != apply.Updated {
		t.Errorf("changed child: result %s, %v", res, err)
	}
	// A field set at creation and later dropped from desired is removed:
	// the create's fields belong to the apply manager.
	if svc, res, err = ensure(owner, "ours", ""); err != nil || res != apply.Updated {
		t.Errorf("dropped label: result %s, %v", res, err)
	}
	fleettest.Must(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ours"}, svc))
	if _, ok := svc.Labels["v"]; ok {
		t.Errorf("a label dropped from desired stayed: %v", svc.Labels)
	}

	// A child that changed, or was replaced, since the reconcile read it is
	// not written; the reconcile comes back soon, without an error to log.
	read, _, err := ensure(owner, "moving", "1")
	fleettest.Must(t, err)
	changed := read.DeepCopy()
	changed.Labels["someone"] = "else"
	fleettest.Must(t, c.Update(ctx, changed, client.FieldOwner("someone")))
	_, err = reconciler.ApplyOwned(ctx, m, "Service", read, desired("moving", "2"), corev1ac.ExtractService)
	if !errors.Is(err, reconciler.ErrChildChanged) {
		t.Fatalf("moving the fields of a child changed since it was read: %v", err)
	}
	if res, err := reconciler.Result(time.Hour, err); err != nil || res.RequeueAfter != reconciler.ConflictRequeue {
		t.Errorf("a changed child: Result %+v, %v; want a quiet requeue", res, err)
	}
	_, _, err = ensure(owner, "moving", "1")
	fleettest.Must(t, err)
	// Read after the fields moved: the apply below is the next write.
	settled := &corev1.Service{}
	fleettest.Must(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "moving"}, settled))
	fleettest.Must(t, c.Delete(ctx, settled))
	replaced := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "moving", Namespace: ns},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	fleettest.Must(t, c.Create(ctx, replaced))
	_, err = reconciler.ApplyOwned(ctx, m, "Service", settled, desired("moving", "2"), corev1ac.ExtractService)
	if !errors.Is(err, reconciler.ErrChildChanged) || reconciler.Rejected(err) {
		t.Fatalf("applying to a child replaced since it was read: %v (a refusal: %v)", err, reconciler.Rejected(err))
	}
	fleettest.Must(t, c.Get(ctx, client.ObjectKeyFromObject(replaced), replaced))
	if len(replaced.OwnerReferences) != 0 || replaced.Labels["v"] != "" {
		t.Errorf("the replacement was written: owners %v, labels %v", replaced.OwnerReferences, replaced.Labels)
	}

	// Someone else's → ConflictError, untouched.
	foreign := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "theirs", Namespace: ns},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 6379}}}}
	fleettest.Must(t, c.Create(ctx, foreign))
	_, _, err = ensure(owner, "theirs", "1")
	conflict, ok := reconciler.AsConflict(err)
	if !ok || conflict.Name != "theirs" || conflict.Kind != "Service" {
		t.Fatalf("foreign child: %v", err)
	}
	now := &corev1.Service{}
	fleettest.Must(t, c.Get(ctx, client.ObjectKeyFromObject(foreign), now))
	if now.ResourceVersion != foreign.ResourceVersion {
		t.Errorf("the foreign Service was written")
	}

	// An owner being deleted gets no new child, even from a stale copy.
	dying := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dying", Namespace: ns, Finalizers: []string{"test.example.com/hold"}}}
	fleettest.Must(t, c.Create(ctx, dying))
	stale := dying.DeepCopy()
	fleettest.Must(t, c.Delete(ctx, dying))
	if _, _, err = ensure(stale, "orphan", "1"); !errors.Is(err, reconciler.ErrOwnerDeleting) {
		t.Errorf("child of an owner being deleted: %v", err)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "orphan"}, &corev1.Service{}); err == nil {
		t.Errorf("a child was created for an owner being deleted")
	}
	fleettest.Must(t, c.Get(ctx, client.ObjectKeyFromObject(dying), dying))
	dying.Finalizers = nil
	fleettest.Must(t, c.Update(ctx, dying))

	// DeleteChild deletes only what the owner controls.
	ours := reconciler.ControlledBy(owner)
	if sent, err := reconciler.DeleteChild(ctx, m, "Service", &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "theirs", Namespace: ns}}, ours); err != nil || sent {
		t.Errorf("DeleteChild on a foreign Service: sent %v, %v", sent, err)
	}
	if sent, err := reconciler.DeleteChild(ctx, m, "Service", &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "ours", Namespace: ns}}, ours); err != nil || !sent {
		t.Errorf("DeleteChild on our Service: sent %v, %v", sent, err)
	}
	if sent, err := reconciler.DeleteChild(ctx, m, "Service", &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "ours", Namespace: ns}}, ours); err != nil || sent {
		t.Errorf("DeleteChild on a deleted Service: sent %v, %v", sent, err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(foreign), now); err != nil {
		t.Errorf("the foreign Service is gone: %v", err)
	}
}
