package simpledb_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/multicluster-runtime/pkg/multicluster"
	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/cmd/manager/app"
	"github.com/fleethub/fleethub/cmd/manager/app/fleettest"
	"github.com/fleethub/fleethub/pkg/controller/simpledb"
)

var (
	fleet *fleettest.Fleet
	mgr   *fleettest.Manager
	suite = &fleettest.Suite{Members: []string{"alpha", "beta"}}
)

const wait = 30 * time.Second

func TestMain(m *testing.M) {
	code := m.Run()
	suite.Close()
	os.Exit(code)
}

// setup starts the fleet (hub + members alpha and beta) and the manager on
// the first integration test.
func setup(t *testing.T) {
	t.Helper()
	suite.Setup(t)
	fleet, mgr = suite.Fleet, suite.Manager
}

func namespace(t *testing.T, members ...string) string {
	t.Helper()
	return fleet.Namespace(t, members...)
}

func simpleDB(ns, name string, mut ...func(*v1alpha1.SimpleDB)) *v1alpha1.SimpleDB {
	db := &v1alpha1.SimpleDB{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	for _, f := range mut {
		f(db)
	}
	return db
}

func ptr[T any](v T) *T { return &v }

func eventually(t *testing.T, check func() error) {
	t.Helper()
	if err := fleettest.Eventually(context.Background(), wait, check); err != nil {
		t.Fatal(err)
	}
}

func key(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

func get[T client.Object](t *testing.T, member, ns, name string, obj T) T {
	t.Helper()
	fleettest.Must(t, fleet.Members[member].Client.Get(context.Background(), key(ns, name), obj))
	return obj
}

func waitFor[T client.Object](t *testing.T, member, ns, name string, obj T) T {
	t.Helper()
	eventually(t, func() error {
		return fleet.Members[member].Client.Get(context.Background(), key(ns, name), obj)
	})
	return obj
}

func absent(ctx context.Context, member, ns, name string, obj client.Object) error {
	err := fleet.Members[member].Client.Get(ctx, key(ns, name), obj)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%T %s still exists", obj, name)
}

func condition(db *v1alpha1.SimpleDB, t string) metav1.Condition {
	if c := meta.FindStatusCondition(db.Status.Conditions, t); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// waitCondition waits until the SimpleDB's condition typ has status and reason.
func waitCondition(t *testing.T, member, ns, name, typ string, status metav1.ConditionStatus, reason string) *v1alpha1.SimpleDB {
	t.Helper()
	db := &v1alpha1.SimpleDB{}
	eventually(t, func() error {
		get(t, member, ns, name, db)
		c := condition(db, typ)
		if c.Status != status || (reason != "" && c.Reason != reason) {
			return fmt.Errorf("want %s=%s/%s, got %s=%s/%s: %s", typ, status, reason, typ, c.Status, c.Reason, c.Message)
		}
		return nil
	})
	return db
}

// setAvailable plays the Deployment controller, which envtest does not run.
func setAvailable(t *testing.T, member, ns, name string, available int32) {
	t.Helper()
	c := fleet.Members[member].Client
	eventually(t, func() error {
		cur := &appsv1.Deployment{}
		if err := c.Get(context.Background(), key(ns, name), cur); err != nil {
			return err
		}
		cur.Status = appsv1.DeploymentStatus{
			ObservedGeneration: cur.Generation,
			Replicas:           1,
			UpdatedReplicas:    1,
			ReadyReplicas:      available,
			AvailableReplicas:  available,
		}
		return c.Status().Update(context.Background(), cur)
	})
}

// bind plays the volume binder: the claim is Bound with its requested size.
func bind(t *testing.T, member, ns, name string) {
	t.Helper()
	c := fleet.Members[member].Client
	eventually(t, func() error {
		pvc := &corev1.PersistentVolumeClaim{}
		if err := c.Get(context.Background(), key(ns, name), pvc); err != nil {
			return err
		}
		pvc.Status.Phase = corev1.ClaimBound
		pvc.Status.AccessModes = pvc.Spec.AccessModes
		pvc.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]}
		return c.Status().Update(context.Background(), pvc)
	})
}

// password reads the current password of a SimpleDB's Secret.
func password(t *testing.T, member, ns, name string) (string, types.UID) {
	t.Helper()
	s := get(t, member, ns, name+"-credentials", &corev1.Secret{})
	return string(s.Data[simpledb.KeyPassword]), s.UID
}

func checksum(t *testing.T, member, ns, name string) string {
	t.Helper()
	d := get(t, member, ns, name, &appsv1.Deployment{})
	return d.Spec.Template.Annotations[simpledb.ChecksumAnnotation]
}

// cleanup deletes a SimpleDB and, since envtest runs no garbage collector,
// whatever children remain.
func cleanup(t *testing.T, member, ns string, names ...string) {
	t.Helper()
	ctx := context.Background()
	c := fleet.Members[member].Client
	for _, n := range names {
		_ = c.Delete(ctx, simpleDB(ns, n))
		for _, obj := range []client.Object{
			&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: ns}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: ns}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: n + "-credentials", Namespace: ns}},
			&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: n + "-data", Namespace: ns}},
		} {
			_ = c.Delete(ctx, obj)
		}
	}
}

func TestChildrenCreatedInOrderWithOwnerRefs(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "alpha", "beta")
	a := fleet.Members["alpha"].Client

	// Record the order in which the children appear, from the apiserver's watch.
	wc, err := client.NewWithWatch(fleet.Members["alpha"].Config, client.Options{Scheme: app.Scheme()})
	fleettest.Must(t, err)
	var order []string
	var mu sync.Mutex
	for _, list := range []client.ObjectList{&corev1.SecretList{}, &corev1.PersistentVolumeClaimList{}, &appsv1.DeploymentList{}, &corev1.ServiceList{}} {
		w, err := wc.Watch(ctx, list, client.InNamespace(ns))
		fleettest.Must(t, err)
		defer w.Stop()
		go func() {
			for ev := range w.ResultChan() {
				if ev.Type != watch.Added {
					continue
				}
				obj := ev.Object.(client.Object)
				mu.Lock()
				order = append(order, fmt.Sprintf("%T", obj))
				mu.Unlock()
			}
		}()
	}
	time.Sleep(200 * time.Millisecond) // watches established

	db := simpleDB(ns, "orders", func(d *v1alpha1.SimpleDB) {
		d.Spec.Resources = &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}}
	})
	fleettest.Must(t, a.Create(ctx, db))

	eventually(t, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(order) < 4 {
			return fmt.Errorf("children seen so far: %v", order)
		}
		return nil
	})
	mu.Lock()
	want := []string{"*v1.Secret", "*v1.PersistentVolumeClaim", "*v1.Deployment", "*v1.Service"}
	if !slices.Equal(order[:4], want) {
		t.Errorf("children created in order %v, want %v", order, want)
	}
	mu.Unlock()

	get(t, "alpha", ns, "orders", db)
	secret := get(t, "alpha", ns, "orders-credentials", &corev1.Secret{})
	pvc := get(t, "alpha", ns, "orders-data", &corev1.PersistentVolumeClaim{})
	dep := get(t, "alpha", ns, "orders", &appsv1.Deployment{})
	svc := get(t, "alpha", ns, "orders", &corev1.Service{})
	for _, obj := range []client.Object{dep, svc} {
		if !metav1.IsControlledBy(obj, db) {
			t.Errorf("%T %s is not controlled by the SimpleDB: %v", obj, obj.GetName(), obj.GetOwnerReferences())
		}
	}
	// The data (deletionPolicy Retain) carries no owner reference the
	// garbage collector could act on; its owner is in the annotations.
	for _, obj := range []client.Object{secret, pvc} {
		if len(obj.GetOwnerReferences()) != 0 || obj.GetAnnotations()[v1alpha1.AnnotationOwnerUID] != string(db.UID) {
			t.Errorf("%T %s: owner references %v, annotations %v", obj, obj.GetName(), obj.GetOwnerReferences(), obj.GetAnnotations())
		}
	}
	for _, obj := range []client.Object{secret, pvc, dep, svc} {
		if obj.GetLabels()[v1alpha1.LabelManagedBy] != v1alpha1.ManagedByValue {
			t.Errorf("%T %s lacks the managed-by label: %v", obj, obj.GetName(), obj.GetLabels())
		}
	}

	// The Secret is ready for service binding and for apps reading it directly.
	if secret.Type != simpledb.SecretType {
		t.Errorf("Secret type = %s", secret.Type)
	}
	pw := string(secret.Data["password"])
	wantData := map[string]string{
		"username": "postgres", "database": "orders", "host": "orders." + ns + ".svc", "port": "5432",
		"type": "postgresql", "provider": "fleethub",
		"uri": "postgresql://postgres:" + pw + "@orders." + ns + ".svc:5432/orders",
	}
	for k, v := range wantData {
		if got := string(secret.Data[k]); got != v {
			t.Errorf("Secret key %s = %q, want %q", k, got, v)
		}
	}
	if len(pw) < 24 {
		t.Errorf("password too short: %d characters", len(pw))
	}

	// The Deployment runs the configured image, takes its credentials from the Secret and rolls on change.
	pod := dep.Spec.Template.Spec
	if img := pod.Containers[0].Image; img != "postgres:"+v1alpha1.DefaultPostgresVersion {
		t.Errorf("image = %s", img)
	}
	if dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType || *dep.Spec.Replicas != 1 {
		t.Errorf("strategy %s replicas %d", dep.Spec.Strategy.Type, *dep.Spec.Replicas)
	}
	if got := dep.Spec.Template.Annotations[simpledb.ChecksumAnnotation]; got != simpledb.CredentialsChecksum("postgres", pw) {
		t.Errorf("checksum annotation = %q", got)
	}
	if len(pod.InitContainers) != 1 || pod.Volumes[0].PersistentVolumeClaim.ClaimName != "orders-data" {
		t.Errorf("pod = %+v", pod)
	}
	if r := pod.Containers[0].Resources.Requests[corev1.ResourceMemory]; r.String() != "256Mi" {
		t.Errorf("memory request = %s", r.String())
	}
	if svc.Spec.Ports[0].Port != 5432 {
		t.Errorf("service port = %d", svc.Spec.Ports[0].Port)
	}

	// Status: names filled in, not ready while the claim is pending (the
	// likely cause of a pod that does not start) nor until the Deployment is
	// available.
	waitCondition(t, "alpha", ns, "orders", v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonClaimPending)
	bind(t, "alpha", ns, "orders-data")
	setAvailable(t, "alpha", ns, "orders", 0)
	db = waitCondition(t, "alpha", ns, "orders", v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonReplicasUnavailable)
	st := db.Status
	if st.SecretName != "orders-credentials" || st.ServiceName != "orders" || st.Endpoint != "orders."+ns+".svc:5432" || st.Database != "orders" || st.Ready || st.ObservedGeneration != db.Generation {
		t.Errorf("status = %+v", st)
	}
	for _, typ := range []string{v1alpha1.ConditionAvailable, v1alpha1.ConditionStorageReady, v1alpha1.ConditionCredentialsReady, v1alpha1.ConditionDegraded} {
		if c := condition(db, typ); c.Status == "" || c.Reason == "" || c.ObservedGeneration != db.Generation {
			t.Errorf("condition %s = %+v", typ, c)
		}
	}
	if !slices.Contains(db.Finalizers, v1alpha1.Finalizer) {
		t.Errorf("finalizer missing: %v", db.Finalizers)
	}

	// Ready follows the Deployment's availability.
	setAvailable(t, "alpha", ns, "orders", 1)
	db = waitCondition(t, "alpha", ns, "orders", v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	if !db.Status.Ready {
		t.Errorf("status.ready = false with Ready=True")
	}
	setAvailable(t, "alpha", ns, "orders", 0)
	db = waitCondition(t, "alpha", ns, "orders", v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonReplicasUnavailable)
	if db.Status.Ready {
		t.Errorf("status.ready = true with Ready=False")
	}

	// One Event announced the children; taking over the new Secret's fields
	// announced nothing.
	eventually(t, func() error {
		list := &eventsv1.EventList{}
		if err := a.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err
		}
		var created string
		for _, e := range list.Items {
			if e.Regarding.Name != "orders" {
				continue
			}
			switch e.Reason {
			case "Created":
				created += e.Note
			case "Updated":
				return fmt.Errorf("unexpected Event: %s", e.Note)
			}
		}
		for _, child := range []string{"Secret orders-credentials", "PersistentVolumeClaim orders-data", "Deployment orders", "Service orders"} {
			if !strings.Contains(created, child) {
				return fmt.Errorf("no Created Event names %s: %q", child, created)
			}
		}
		return nil
	})

	// Nothing leaked into beta, whose own SimpleDB is reconciled there.
	if err := absent(ctx, "beta", ns, "orders", &appsv1.Deployment{}); err != nil {
		t.Errorf("beta: %v", err)
	}
	fleettest.Must(t, fleet.Members["beta"].Client.Create(ctx, simpleDB(ns, "blog", func(d *v1alpha1.SimpleDB) {
		d.Spec.PostgresVersion = "16"
		d.Spec.DatabaseName = "posts"
	})))
	bdep := waitFor(t, "beta", ns, "blog", &appsv1.Deployment{})
	if img := bdep.Spec.Template.Spec.Containers[0].Image; img != "postgres:16" {
		t.Errorf("beta image = %s", img)
	}
	if got := string(get(t, "beta", ns, "blog-credentials", &corev1.Secret{}).Data["database"]); got != "posts" {
		t.Errorf("beta database = %s", got)
	}
	if err := absent(ctx, "alpha", ns, "blog", &appsv1.Deployment{}); err != nil {
		t.Errorf("alpha: %v", err)
	}
	cleanup(t, "alpha", ns, "orders")
	cleanup(t, "beta", ns, "blog")
}

// refuse installs an admission policy in member that refuses to create
// resource in namespace ns, and returns a function that lifts it.
func refuse(t *testing.T, member, ns, resource string) func() {
	t.Helper()
	ctx := context.Background()
	c := fleet.Members[member].Client
	name := "refuse-" + resource + "-" + ns
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr(admissionv1.Fail),
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create},
					Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{resource}},
				},
			}}},
			Validations: []admissionv1.Validation{{Expression: "false", Message: "test policy refuses " + resource}},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
			MatchResources: &admissionv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns},
			}},
		},
	}
	fleettest.Must(t, c.Create(ctx, policy))
	fleettest.Must(t, c.Create(ctx, binding))
	// Policies take effect asynchronously: probe until one is refused.
	eventually(t, func() error {
		var probe client.Object
		switch resource {
		case "secrets":
			probe = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-", Namespace: ns}}
		default:
			probe = &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-", Namespace: ns}, Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource1Gi()}},
			}}
		}
		if err := c.Create(ctx, probe); err == nil {
			_ = c.Delete(ctx, probe)
			return fmt.Errorf("policy not yet active")
		}
		return nil
	})
	return func() {
		fleettest.Must(t, c.Delete(ctx, binding))
		fleettest.Must(t, c.Delete(ctx, policy))
	}
}

func resource1Gi() resource.Quantity { return resource.MustParse("1Gi") }

func qty(s string) *resource.Quantity { q := resource.MustParse(s); return &q }

func TestDeploymentWaitsForSecretAndClaim(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "alpha")
	c := fleet.Members["alpha"].Client

	// No claim can be created: the Secret is, the Deployment is not.
	lift := refuse(t, "alpha", ns, "persistentvolumeclaims")
	fleettest.Must(t, c.Create(ctx, simpleDB(ns, "noclaim")))
	waitFor(t, "alpha", ns, "noclaim-credentials", &corev1.Secret{})
	db := waitCondition(t, "alpha", ns, "noclaim", v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonApplyFailed)
	if !strings.Contains(condition(db, v1alpha1.ConditionDegraded).Message, "test policy refuses") {
		t.Errorf("Degraded message does not say why: %s", condition(db, v1alpha1.ConditionDegraded).Message)
	}
	if r := condition(db, v1alpha1.ConditionReady); r.Status != metav1.ConditionFalse || r.Reason != v1alpha1.ReasonApplyFailed {
		t.Errorf("Ready = %+v", r)
	}
	time.Sleep(time.Second)
	if err := absent(ctx, "alpha", ns, "noclaim", &appsv1.Deployment{}); err != nil {
		t.Fatalf("Deployment created before its claim: %v", err)
	}
	pw, _ := password(t, "alpha", ns, "noclaim")
	lift()
	waitFor(t, "alpha", ns, "noclaim-data", &corev1.PersistentVolumeClaim{})
	waitFor(t, "alpha", ns, "noclaim", &appsv1.Deployment{})
	waitFor(t, "alpha", ns, "noclaim", &corev1.Service{})
	waitCondition(t, "alpha", ns, "noclaim", v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected)
	if now, _ := password(t, "alpha", ns, "noclaim"); now != pw {
		t.Errorf("password changed while the claim was refused")
	}

	// No Secret can be created: neither the claim nor the Deployment is.
	ns2 := ns + "-2"
	fleettest.Must(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns2}}))
	lift = refuse(t, "alpha", ns2, "secrets")
	fleettest.Must(t, c.Create(ctx, simpleDB(ns2, "nosecret")))
	waitCondition(t, "alpha", ns2, "nosecret", v1alpha1.ConditionCredentialsReady, metav1.ConditionFalse, v1alpha1.ReasonSecretMissing)
	time.Sleep(time.Second)
	for _, obj := range []client.Object{&appsv1.Deployment{}, &corev1.PersistentVolumeClaim{}} {
		name := "nosecret"
		if _, ok := obj.(*corev1.PersistentVolumeClaim); ok {
			name = "nosecret-data"
		}
		if err := absent(ctx, "alpha", ns2, name, obj); err != nil {
			t.Fatalf("created before the Secret: %v", err)
		}
	}
	lift()
	waitFor(t, "alpha", ns2, "nosecret", &appsv1.Deployment{})

	// A Secret of that name that fleethub does not manage is never touched.
	foreign := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "taken-credentials", Namespace: ns},
		StringData: map[string]string{"password": "theirs"},
	}
	fleettest.Must(t, c.Create(ctx, foreign))
	fleettest.Must(t, c.Create(ctx, simpleDB(ns, "taken")))
	db = waitCondition(t, "alpha", ns, "taken", v1alpha1.ConditionCredentialsReady, metav1.ConditionFalse, v1alpha1.ReasonSecretConflict)
	if r := condition(db, v1alpha1.ConditionReady); r.Reason != v1alpha1.ReasonChildConflict || !strings.Contains(r.Message, "Secret taken-credentials") {
		t.Errorf("Ready = %+v", r)
	}
	if s := condition(db, v1alpha1.ConditionStalled); s.Status != metav1.ConditionTrue || s.Reason != v1alpha1.ReasonChildConflict {
		t.Errorf("Stalled = %+v", s)
	}
	time.Sleep(time.Second)
	if err := absent(ctx, "alpha", ns, "taken", &appsv1.Deployment{}); err != nil {
		t.Errorf("Deployment created against a foreign Secret: %v", err)
	}
	s := get(t, "alpha", ns, "taken-credentials", &corev1.Secret{})
	if string(s.Data["password"]) != "theirs" || len(s.OwnerReferences) != 0 || len(s.Labels) != 0 {
		t.Errorf("foreign Secret modified: %+v", s)
	}
	cleanup(t, "alpha", ns, "noclaim", "taken")
	cleanup(t, "alpha", ns2, "nosecret")
}

func TestRejectedDeploymentIsReportedWithoutHotLoop(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "beta")
	c := fleet.Members["beta"].Client
	// The schema cannot see that requests exceed limits; the apiserver refuses the Deployment.
	fleettest.Must(t, c.Create(ctx, simpleDB(ns, "greedy", func(d *v1alpha1.SimpleDB) {
		d.Spec.Resources = &corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
		}
	})))
	db := waitCondition(t, "beta", ns, "greedy", v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonApplyFailed)
	if msg := condition(db, v1alpha1.ConditionDegraded).Message; !strings.Contains(msg, "must be less than or equal to memory limit") {
		t.Errorf("Degraded message does not say why: %s", msg)
	}
	if r := condition(db, v1alpha1.ConditionReady); r.Status != metav1.ConditionFalse || r.Reason != v1alpha1.ReasonApplyFailed {
		t.Errorf("Ready = %+v", r)
	}
	eventually(t, func() error {
		list := &eventsv1.EventList{}
		if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Reason == v1alpha1.ReasonApplyFailed && e.Regarding.Name == "greedy" && e.Type == corev1.EventTypeWarning {
				return nil
			}
		}
		return fmt.Errorf("no %s Warning Event", v1alpha1.ReasonApplyFailed)
	})

	// Stalled: no retry loop. Only the periodic resync tries again (the
	// refusal may come from admission policies that can change), and the
	// unchanged status is not rewritten.
	if s := condition(db, v1alpha1.ConditionStalled); s.Status != metav1.ConditionTrue {
		t.Errorf("a refused spec is not Stalled: %+v", s)
	}
	time.Sleep(time.Second)
	before := fleet.Requests.Snapshot()
	resync := fleettest.TestConfig().ResyncInterval
	time.Sleep(2*resync + resync/2)
	// The Deployment does not exist, so each retry is a create.
	retry := "POST /apis/apps/v1/namespaces/" + ns + "/deployments"
	for _, w := range fleet.Requests.Writes(before, "beta") {
		if !strings.Contains(w, "/namespaces/"+ns+"/") {
			continue
		}
		if w != retry+" x1" && w != retry+" x2" && w != retry+" x3" {
			t.Errorf("more than one retry per resync, or another write: %s", w)
		}
	}

	// Fixing the spec recovers.
	fleettest.Must(t, update("beta", ns, "greedy", func(d *v1alpha1.SimpleDB) {
		d.Spec.Resources.Limits[corev1.ResourceMemory] = resource.MustParse("4Gi")
	}))
	waitFor(t, "beta", ns, "greedy", &corev1.Service{})
	waitCondition(t, "beta", ns, "greedy", v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected)
	cleanup(t, "beta", ns, "greedy")
}

func TestClaimOfAnotherOwnerIsLeftAlone(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "alpha")
	c := fleet.Members["alpha"].Client
	// A WebApp of the same name already has the claim <name>-data.
	app := &v1alpha1.WebApp{
		ObjectMeta: metav1.ObjectMeta{Name: "shared", Namespace: ns},
		Spec:       v1alpha1.WebAppSpec{Image: "nginx:1.27", Storage: &v1alpha1.StorageSpec{Size: resource.MustParse("1Gi")}},
	}
	fleettest.Must(t, c.Create(ctx, app))
	waitFor(t, "alpha", ns, "shared-data", &corev1.PersistentVolumeClaim{})
	waitFor(t, "alpha", ns, "shared", &appsv1.Deployment{})

	fleettest.Must(t, c.Create(ctx, simpleDB(ns, "shared")))
	db := waitCondition(t, "alpha", ns, "shared", v1alpha1.ConditionStorageReady, metav1.ConditionFalse, v1alpha1.ReasonClaimConflict)
	if r := condition(db, v1alpha1.ConditionReady); r.Reason != v1alpha1.ReasonChildConflict || !strings.Contains(r.Message, "held by WebApp shared") {
		t.Errorf("Ready = %+v", r)
	}
	time.Sleep(time.Second)
	pvc := get(t, "alpha", ns, "shared-data", &corev1.PersistentVolumeClaim{})
	dep := get(t, "alpha", ns, "shared", &appsv1.Deployment{})
	get(t, "alpha", ns, "shared", app)
	for _, obj := range []client.Object{pvc, dep} {
		if len(obj.GetOwnerReferences()) != 1 || !metav1.IsControlledBy(obj, app) {
			t.Errorf("%T %s owners changed: %v", obj, obj.GetName(), obj.GetOwnerReferences())
		}
	}
	if img := dep.Spec.Template.Spec.Containers[0].Image; img != "nginx:1.27" {
		t.Errorf("the WebApp's Deployment was overwritten: image %s", img)
	}
	fleettest.Must(t, c.Delete(ctx, db))
	eventually(t, func() error { return absent(ctx, "alpha", ns, "shared", &v1alpha1.SimpleDB{}) })
	if err := c.Get(ctx, key(ns, "shared-data"), pvc); err != nil || !pvc.DeletionTimestamp.IsZero() || !metav1.IsControlledBy(pvc, app) {
		t.Errorf("deleting the SimpleDB touched the WebApp's claim: %v %+v", err, pvc.ObjectMeta)
	}
	eventually(t, func() error {
		list := &eventsv1.EventList{}
		if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Reason == v1alpha1.ReasonDataRetained && e.Regarding.Name == "shared" {
				if strings.Contains(e.Note, "shared-data") || !strings.Contains(e.Note, "Secret shared-credentials") {
					return fmt.Errorf("retained Event does not name exactly what the SimpleDB had: %s", e.Note)
				}
				return nil
			}
		}
		return fmt.Errorf("no %s Event", v1alpha1.ReasonDataRetained)
	})
	fleettest.Must(t, c.Delete(ctx, app))
	cleanup(t, "alpha", ns, "shared")
}

// reconcileDirectly runs the SimpleDB reconciler against the running
// manager's clusters, outside its work queue.
func reconcileDirectly(t *testing.T, member, ns, name string, times int) {
	t.Helper()
	r := &simpledb.Reconciler{Manager: mgr.Manager, ResyncInterval: time.Minute}
	req := mcreconcile.Request{ClusterName: multicluster.ClusterName(member)}
	req.Namespace, req.Name = ns, name
	for i := range times {
		if _, err := r.Reconcile(context.Background(), req); err != nil {
			t.Fatalf("reconcile %d: %v", i, err)
		}
	}
}

func TestPasswordStable(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "alpha")
	c := fleet.Members["alpha"].Client
	fleettest.Must(t, c.Create(ctx, simpleDB(ns, "stable")))
	waitFor(t, "alpha", ns, "stable", &corev1.Service{})
	pw, uid := password(t, "alpha", ns, "stable")
	sum := checksum(t, "alpha", ns, "stable")

	same := func(when string) {
		t.Helper()
		eventually(t, func() error {
			if got := checksum(t, "alpha", ns, "stable"); got != sum {
				return fmt.Errorf("%s: checksum changed from %s to %s", when, sum, got)
			}
			return nil
		})
		if now, nowUID := password(t, "alpha", ns, "stable"); now != pw || nowUID != uid {
			t.Fatalf("%s: password or Secret changed", when)
		}
	}

	// The direct reconciles race the manager's own: start them once the
	// children are settled, or a settling write may conflict with them.
	waitSettled(t, "alpha", ns, "stable", &appsv1.Deployment{}, &corev1.Service{})
	waitSettled(t, "alpha", ns, "stable-data", &corev1.PersistentVolumeClaim{})
	reconcileDirectly(t, "alpha", ns, "stable", 100)
	same("after 100 reconciles")

	// A spec change rolls out, with the same password.
	fleettest.Must(t, update("alpha", ns, "stable", func(d *v1alpha1.SimpleDB) {
		d.Spec.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}
	}))
	eventually(t, func() error {
		d := get(t, "alpha", ns, "stable", &appsv1.Deployment{})
		if l := d.Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory]; l.String() != "1Gi" {
			return fmt.Errorf("memory limit = %s", l.String())
		}
		return nil
	})
	same("after a spec change")

	// A new manager (restart, failover) keeps it too.
	fleettest.Must(t, mgr.Stop())
	var err error
	mgr, err = fleet.StartManager(fleettest.TestConfig())
	fleettest.Must(t, err)
	suite.Manager = mgr // later tests and Close use the new one
	fleettest.Must(t, mgr.WaitEngaged(ctx, "alpha", "beta"))
	fleettest.Must(t, update("alpha", ns, "stable", func(d *v1alpha1.SimpleDB) {
		d.Spec.Resources.Limits[corev1.ResourceMemory] = resource.MustParse("2Gi")
	}))
	eventually(t, func() error {
		d := get(t, "alpha", ns, "stable", &appsv1.Deployment{})
		if l := d.Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory]; l.String() != "2Gi" {
			return fmt.Errorf("new manager has not reconciled: memory limit = %s", l.String())
		}
		return nil
	})
	same("after a manager restart")

	// A password rotated by hand stays; the URI follows it and the pod rolls.
	fleettest.Must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s := get(t, "alpha", ns, "stable-credentials", &corev1.Secret{})
		s.Data["password"] = []byte("rotated-by/hand:@")
		return c.Update(ctx, s)
	}))
	eventually(t, func() error {
		s := get(t, "alpha", ns, "stable-credentials", &corev1.Secret{})
		if string(s.Data["password"]) != "rotated-by/hand:@" {
			return fmt.Errorf("rotated password overwritten")
		}
		if uri := string(s.Data["uri"]); !strings.Contains(uri, "postgres:rotated-by%2Fhand%3A%40@") {
			return fmt.Errorf("uri not updated: %s", uri)
		}
		if got := checksum(t, "alpha", ns, "stable"); got != simpledb.CredentialsChecksum("postgres", "rotated-by/hand:@") {
			return fmt.Errorf("pod template not rolled: %s", got)
		}
		return nil
	})
	cleanup(t, "alpha", ns, "stable")
}

func TestSecretDeletedIsRecreatedAndRollsPod(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "beta")
	c := fleet.Members["beta"].Client
	fleettest.Must(t, c.Create(ctx, simpleDB(ns, "lost")))
	waitFor(t, "beta", ns, "lost", &appsv1.Deployment{})
	pw, uid := password(t, "beta", ns, "lost")
	sum := checksum(t, "beta", ns, "lost")

	fleettest.Must(t, c.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "lost-credentials", Namespace: ns}}))
	eventually(t, func() error {
		s := &corev1.Secret{}
		if err := c.Get(ctx, key(ns, "lost-credentials"), s); err != nil {
			return err
		}
		if s.UID == uid {
			return fmt.Errorf("Secret not yet re-created")
		}
		if len(s.Data["password"]) < 24 || string(s.Data["password"]) == pw {
			return fmt.Errorf("re-created Secret has no new password")
		}
		if got := checksum(t, "beta", ns, "lost"); got == sum || got != simpledb.CredentialsChecksum("postgres", string(s.Data["password"])) {
			return fmt.Errorf("pod template checksum %s does not match the new Secret", got)
		}
		return nil
	})
	cleanup(t, "beta", ns, "lost")
}

func TestRetainKeepsDataAndPasswordForTheNextSimpleDB(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "alpha")
	c := fleet.Members["alpha"].Client
	fleettest.Must(t, c.Create(ctx, simpleDB(ns, "keep")))
	waitFor(t, "alpha", ns, "keep", &corev1.Service{})
	waitFor(t, "alpha", ns, "keep", &appsv1.Deployment{})
	pw, secretUID := password(t, "alpha", ns, "keep")
	claim := get(t, "alpha", ns, "keep-data", &corev1.PersistentVolumeClaim{})
	db := waitCondition(t, "alpha", ns, "keep", v1alpha1.ConditionCredentialsReady, metav1.ConditionTrue, "")
	if db.Spec.DeletionPolicy != v1alpha1.SimpleDBRetain {
		t.Errorf("deletionPolicy default = %q", db.Spec.DeletionPolicy)
	}

	fleettest.Must(t, c.Delete(ctx, db))
	eventually(t, func() error {
		for _, chk := range []error{
			absent(ctx, "alpha", ns, "keep", &v1alpha1.SimpleDB{}),
			absent(ctx, "alpha", ns, "keep", &appsv1.Deployment{}),
			absent(ctx, "alpha", ns, "keep", &corev1.Service{}),
		} {
			if chk != nil {
				return chk
			}
		}
		return nil
	})
	kept := []client.Object{get(t, "alpha", ns, "keep-data", &corev1.PersistentVolumeClaim{}), get(t, "alpha", ns, "keep-credentials", &corev1.Secret{})}
	for _, obj := range kept {
		if len(obj.GetOwnerReferences()) != 0 || !obj.GetDeletionTimestamp().IsZero() {
			t.Errorf("%T %s: owner references %v, deletion %v", obj, obj.GetName(), obj.GetOwnerReferences(), obj.GetDeletionTimestamp())
		}
	}
	eventually(t, func() error {
		list := &eventsv1.EventList{}
		if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Reason == v1alpha1.ReasonDataRetained && e.Regarding.Name == "keep" &&
				strings.Contains(e.Note, "PersistentVolumeClaim keep-data") && strings.Contains(e.Note, "Secret keep-credentials") {
				return nil
			}
		}
		return fmt.Errorf("no %s Event naming what was kept", v1alpha1.ReasonDataRetained)
	})

	// A new SimpleDB of the same name adopts both.
	fleettest.Must(t, c.Create(ctx, simpleDB(ns, "keep")))
	db = &v1alpha1.SimpleDB{}
	eventually(t, func() error {
		get(t, "alpha", ns, "keep", db)
		for _, obj := range []client.Object{&corev1.PersistentVolumeClaim{}, &corev1.Secret{}} {
			name := "keep-data"
			if _, ok := obj.(*corev1.Secret); ok {
				name = "keep-credentials"
			}
			get(t, "alpha", ns, name, obj)
			if obj.GetAnnotations()[v1alpha1.AnnotationOwnerUID] != string(db.UID) || len(obj.GetOwnerReferences()) != 0 {
				return fmt.Errorf("%s not adopted: annotations %v, owner references %v", name, obj.GetAnnotations(), obj.GetOwnerReferences())
			}
		}
		return nil
	})
	if now := get(t, "alpha", ns, "keep-data", &corev1.PersistentVolumeClaim{}); now.UID != claim.UID {
		t.Errorf("a new claim was created instead of adopting the kept one")
	}
	if now, uid := password(t, "alpha", ns, "keep"); now != pw || uid != secretUID {
		t.Errorf("the kept Secret or its password was replaced")
	}
	waitFor(t, "alpha", ns, "keep", &appsv1.Deployment{})
	if got := checksum(t, "alpha", ns, "keep"); got != simpledb.CredentialsChecksum("postgres", pw) {
		t.Errorf("checksum %s is not that of the kept password", got)
	}
	cleanup(t, "alpha", ns, "keep")
}

func TestDeletePolicyRemovesEverything(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "beta")
	c := fleet.Members["beta"].Client
	fleettest.Must(t, c.Create(ctx, simpleDB(ns, "scratch", func(d *v1alpha1.SimpleDB) { d.Spec.DeletionPolicy = v1alpha1.SimpleDBDelete })))
	waitFor(t, "beta", ns, "scratch", &corev1.Service{})
	waitFor(t, "beta", ns, "scratch", &appsv1.Deployment{})
	fleettest.Must(t, c.Delete(ctx, simpleDB(ns, "scratch")))
	eventually(t, func() error {
		for _, chk := range []error{
			absent(ctx, "beta", ns, "scratch", &v1alpha1.SimpleDB{}),
			absent(ctx, "beta", ns, "scratch", &appsv1.Deployment{}),
			absent(ctx, "beta", ns, "scratch", &corev1.Service{}),
			absent(ctx, "beta", ns, "scratch-credentials", &corev1.Secret{}),
		} {
			if chk != nil {
				return chk
			}
		}
		// envtest runs no controller to lift kubernetes.io/pvc-protection:
		// the claim being deleted is what we can observe.
		pvc := &corev1.PersistentVolumeClaim{}
		if err := c.Get(ctx, key(ns, "scratch-data"), pvc); err == nil && pvc.DeletionTimestamp.IsZero() {
			return fmt.Errorf("claim not deleted")
		} else if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		return nil
	})
}

// update applies mut to the SimpleDB's latest version, retrying when the
// controller wrote in between, and returns the apiserver's verdict.
func update(member, ns, name string, mut func(*v1alpha1.SimpleDB)) error {
	c := fleet.Members[member].Client
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		db := &v1alpha1.SimpleDB{}
		if err := c.Get(context.Background(), key(ns, name), db); err != nil {
			return err
		}
		mut(db)
		return c.Update(context.Background(), db)
	})
}

func TestSchemaRejectsUnsafeChanges(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "alpha")
	c := fleet.Members["alpha"].Client
	fleettest.Must(t, c.Create(ctx, simpleDB(ns, "guarded", func(d *v1alpha1.SimpleDB) {
		d.Spec.StorageSize = qty("2Gi")
		d.Spec.PostgresVersion = "16"
	})))
	unnamed := simpleDB(ns, "derived-name")
	fleettest.Must(t, c.Create(ctx, unnamed))
	if unnamed.Spec.PostgresVersion != v1alpha1.DefaultPostgresVersion || unnamed.Spec.StorageSize.String() != "1Gi" || unnamed.Spec.DeletionPolicy != v1alpha1.SimpleDBRetain {
		t.Errorf("defaults = %+v", unnamed.Spec)
	}

	updates := map[string]struct {
		name string
		mut  func(*v1alpha1.SimpleDB)
		want string
	}{
		"shrink":             {"guarded", func(d *v1alpha1.SimpleDB) { d.Spec.StorageSize = qty("1Gi") }, "storageSize cannot be decreased"},
		"rename":             {"guarded", func(d *v1alpha1.SimpleDB) { d.Spec.DatabaseName = "other" }, "spec.databaseName cannot be changed after creation"},
		"rename derived":     {"derived-name", func(d *v1alpha1.SimpleDB) { d.Spec.DatabaseName = "other" }, "spec.databaseName cannot be changed after creation"},
		"major upgrade":      {"guarded", func(d *v1alpha1.SimpleDB) { d.Spec.PostgresVersion = "17" }, "major upgrades are not done in place"},
		"major downgrade":    {"guarded", func(d *v1alpha1.SimpleDB) { d.Spec.PostgresVersion = "15" }, "postgresVersion cannot be changed"},
		"storageClass added": {"guarded", func(d *v1alpha1.SimpleDB) { d.Spec.StorageClassName = ptr("fast") }, "storageClassName cannot be changed"},
	}
	for name, tc := range updates {
		t.Run(name, func(t *testing.T) {
			err := update("alpha", ns, tc.name, tc.mut)
			if err == nil {
				t.Fatalf("apiserver accepted the change")
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an Invalid error mentioning %q, got: %v", tc.want, err)
			}
		})
	}

	// Growing, and spelling out the derived database name, are fine.
	fleettest.Must(t, update("alpha", ns, "guarded", func(d *v1alpha1.SimpleDB) { d.Spec.StorageSize = qty("3Gi") }))
	fleettest.Must(t, update("alpha", ns, "derived-name", func(d *v1alpha1.SimpleDB) { d.Spec.DatabaseName = "derived_name" }))

	creates := map[string]struct {
		db   *v1alpha1.SimpleDB
		want string
	}{
		"zero size":        {simpleDB(ns, "zero", func(d *v1alpha1.SimpleDB) { d.Spec.StorageSize = qty("0") }), "storageSize must be greater than zero"},
		"unknown version":  {simpleDB(ns, "v12", func(d *v1alpha1.SimpleDB) { d.Spec.PostgresVersion = "12" }), "spec.postgresVersion"},
		"bad database":     {simpleDB(ns, "bad-db", func(d *v1alpha1.SimpleDB) { d.Spec.DatabaseName = "Robert'); DROP" }), "spec.databaseName"},
		"template":         {simpleDB(ns, "tpl", func(d *v1alpha1.SimpleDB) { d.Spec.DatabaseName = "template1" }), "must not be a PostgreSQL template database"},
		"name with dot":    {simpleDB(ns, "my.db"), "metadata.name must start with a letter"},
		"name with digit":  {simpleDB(ns, "1db"), "metadata.name must start with a letter"},
		"bad policy":       {simpleDB(ns, "pol", func(d *v1alpha1.SimpleDB) { d.Spec.DeletionPolicy = "Orphan" }), "spec.deletionPolicy"},
		"empty class name": {simpleDB(ns, "cls", func(d *v1alpha1.SimpleDB) { d.Spec.StorageClassName = ptr("") }), "spec.storageClassName"},
	}
	for name, tc := range creates {
		t.Run(name, func(t *testing.T) {
			err := c.Create(ctx, tc.db)
			if err == nil {
				_ = c.Delete(ctx, tc.db)
				t.Fatalf("apiserver accepted the spec")
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an Invalid error mentioning %q, got: %v", tc.want, err)
			}
		})
	}
	cleanup(t, "alpha", ns, "guarded", "derived-name")
}

func TestStorageExpansion(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "beta")
	c := fleet.Members["beta"].Client
	growable := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "growable"}, Provisioner: "example.com/test", AllowVolumeExpansion: ptr(true)}
	fixed := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fixed"}, Provisioner: "example.com/test"}
	for _, sc := range []*storagev1.StorageClass{growable, fixed} {
		fleettest.Must(t, c.Create(ctx, sc))
		defer func() { _ = c.Delete(ctx, sc) }()
	}
	for _, name := range []string{"growable", "fixed"} {
		fleettest.Must(t, c.Create(ctx, simpleDB(ns, name, func(d *v1alpha1.SimpleDB) { d.Spec.StorageClassName = ptr(name) })))
		waitFor(t, "beta", ns, name+"-data", &corev1.PersistentVolumeClaim{})
		bind(t, "beta", ns, name+"-data")
		db := waitCondition(t, "beta", ns, name, v1alpha1.ConditionStorageReady, metav1.ConditionTrue, v1alpha1.ReasonClaimBound)
		if db.Status.Capacity == nil || db.Status.Capacity.String() != "1Gi" {
			t.Errorf("%s: status.capacity = %v", name, db.Status.Capacity)
		}
		fleettest.Must(t, update("beta", ns, name, func(d *v1alpha1.SimpleDB) { d.Spec.StorageSize = qty("5Gi") }))
	}

	// The class allows it: the claim asks for more; until the volume grows, Resizing.
	eventually(t, func() error {
		pvc := get(t, "beta", ns, "growable-data", &corev1.PersistentVolumeClaim{})
		if r := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; r.String() != "5Gi" {
			return fmt.Errorf("claim request = %s", r.String())
		}
		return nil
	})
	waitCondition(t, "beta", ns, "growable", v1alpha1.ConditionStorageReady, metav1.ConditionFalse, v1alpha1.ReasonResizing)
	bind(t, "beta", ns, "growable-data")
	waitCondition(t, "beta", ns, "growable", v1alpha1.ConditionStorageReady, metav1.ConditionTrue, v1alpha1.ReasonClaimBound)

	// It does not: a condition and an Event say so, the claim is left alone,
	// and nothing is retried in a loop.
	db := waitCondition(t, "beta", ns, "fixed", v1alpha1.ConditionStorageReady, metav1.ConditionFalse, v1alpha1.ReasonExpansionNotSupported)
	if msg := condition(db, v1alpha1.ConditionStorageReady).Message; !strings.Contains(msg, "StorageClass fixed does not allow volume expansion") {
		t.Errorf("message = %s", msg)
	}
	eventually(t, func() error {
		list := &eventsv1.EventList{}
		if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Reason == v1alpha1.ReasonExpansionNotSupported && e.Regarding.Name == "fixed" && e.Type == corev1.EventTypeWarning {
				return nil
			}
		}
		return fmt.Errorf("no %s Event", v1alpha1.ReasonExpansionNotSupported)
	})
	time.Sleep(time.Second)
	before := fleet.Requests.Snapshot()
	time.Sleep(2*fleettest.TestConfig().ResyncInterval + time.Second)
	for _, w := range fleet.Requests.Writes(before, "beta") {
		if strings.Contains(w, "/namespaces/"+ns+"/") {
			t.Errorf("write while expansion is impossible: %s", w)
		}
	}
	if r := get(t, "beta", ns, "fixed-data", &corev1.PersistentVolumeClaim{}).Spec.Resources.Requests[corev1.ResourceStorage]; r.String() != "1Gi" {
		t.Errorf("claim request changed to %s", r.String())
	}
	cleanup(t, "beta", ns, "growable", "fixed")
}

func TestPendingClaimReportsItsEvent(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "alpha")
	c := fleet.Members["alpha"].Client
	fleettest.Must(t, c.Create(ctx, simpleDB(ns, "waiting", func(d *v1alpha1.SimpleDB) { d.Spec.StorageClassName = ptr("missing") })))
	pvc := waitFor(t, "alpha", ns, "waiting-data", &corev1.PersistentVolumeClaim{})
	db := waitCondition(t, "alpha", ns, "waiting", v1alpha1.ConditionStorageReady, metav1.ConditionFalse, v1alpha1.ReasonClaimPending)
	_ = db

	// What the volume controller would say about it.
	now := metav1.Now()
	fleettest.Must(t, c.Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: "waiting-data.", Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: ns, Name: pvc.Name, UID: pvc.UID, APIVersion: "v1"},
		Type:           corev1.EventTypeWarning,
		Reason:         "ProvisioningFailed",
		Message:        `storageclass.storage.k8s.io "missing" not found`,
		Source:         corev1.EventSource{Component: "persistentvolume-controller"},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}))
	db = waitCondition(t, "alpha", ns, "waiting", v1alpha1.ConditionStorageReady, metav1.ConditionFalse, "ProvisioningFailed")
	if msg := condition(db, v1alpha1.ConditionStorageReady).Message; !strings.Contains(msg, `"missing" not found`) {
		t.Errorf("StorageReady message = %s", msg)
	}
	if r := condition(db, v1alpha1.ConditionReady); r.Reason != "ProvisioningFailed" {
		t.Errorf("Ready does not name the claim as the cause: %+v", r)
	}
	cleanup(t, "alpha", ns, "waiting")
}

func TestSteadyStateWritesNothing(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "alpha", "beta")
	for _, m := range []string{"alpha", "beta"} {
		c := fleet.Members[m].Client
		for i := range 3 {
			name := fmt.Sprintf("db-%d", i)
			fleettest.Must(t, c.Create(ctx, simpleDB(ns, name, func(d *v1alpha1.SimpleDB) {
				d.Spec.Resources = &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0.1")}}
				if i == 1 {
					d.Spec.DatabaseName = "app"
					d.Spec.PostgresVersion = "15"
				}
			})))
			waitFor(t, m, ns, name, &appsv1.Deployment{})
			bind(t, m, ns, name+"-data")
			setAvailable(t, m, ns, name, 1)
		}
	}
	for _, m := range []string{"alpha", "beta"} {
		eventually(t, func() error {
			list := &v1alpha1.SimpleDBList{}
			if err := fleet.Members[m].Client.List(ctx, list, client.InNamespace(ns)); err != nil {
				return err
			}
			for _, db := range list.Items {
				if !db.Status.Ready || !meta.IsStatusConditionTrue(db.Status.Conditions, v1alpha1.ConditionStorageReady) {
					return fmt.Errorf("%s/%s not ready: %+v", m, db.Name, db.Status.Conditions)
				}
			}
			return nil
		})
	}
	time.Sleep(time.Second) // let the last watch events settle

	before := fleet.Requests.Snapshot()
	resync := fleettest.TestConfig().ResyncInterval
	time.Sleep(3*resync + resync/2)
	for _, m := range []string{"alpha", "beta"} {
		if w := fleet.Requests.Writes(before, m); len(w) > 0 {
			t.Errorf("member %s got write requests in steady state: %v", m, w)
		}
		if n := fleet.Requests.Total(before, m); n == 0 {
			t.Errorf("member %s got no requests at all: is the counter wired?", m)
		}
	}

	// The gauges count what each member has, and follow deletions.
	metricsMatchMembers(t)
	fleettest.Must(t, fleet.Members["beta"].Client.Delete(ctx, simpleDB(ns, "db-2")))
	eventually(t, func() error { return absent(ctx, "beta", ns, "db-2", &v1alpha1.SimpleDB{}) })
	metricsMatchMembers(t)
	for _, m := range []string{"alpha", "beta"} {
		cleanup(t, m, ns, "db-0", "db-1", "db-2")
	}
}

// metricsMatchMembers waits until simpledb_managed_instances and
// simpledb_ready_instances equal what the members hold.
func metricsMatchMembers(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	eventually(t, func() error {
		families, err := metrics.Registry.Gather()
		if err != nil {
			return err
		}
		got := map[string]float64{}
		for _, f := range families {
			if f.GetName() != "simpledb_managed_instances" && f.GetName() != "simpledb_ready_instances" {
				continue
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "cluster" {
						got[f.GetName()+"/"+l.GetValue()] = m.GetGauge().GetValue()
					}
				}
			}
		}
		for _, member := range []string{"alpha", "beta"} {
			list := &v1alpha1.SimpleDBList{}
			if err := fleet.Members[member].Client.List(ctx, list); err != nil {
				return err
			}
			managed, ready := 0, 0
			for _, db := range list.Items {
				if !db.DeletionTimestamp.IsZero() {
					continue
				}
				managed++
				if db.Status.Ready {
					ready++
				}
			}
			if got["simpledb_managed_instances/"+member] != float64(managed) || got["simpledb_ready_instances/"+member] != float64(ready) {
				return fmt.Errorf("member %s: gauges %v, want managed %d ready %d", member, got, managed, ready)
			}
		}
		return nil
	})
}
