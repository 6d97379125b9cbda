package webapp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/cmd/manager/app/fleettest"
	"github.com/fleethub/fleethub/pkg/config"
	"github.com/fleethub/fleethub/pkg/membersecret"
)

var (
	spans       = tracetest.NewInMemoryExporter()
	metricsAddr string
	fleet       *fleettest.Fleet
	mgr         *fleettest.Manager
)

var suite = &fleettest.Suite{
	Members: []string{"alpha", "beta"},
	Configure: func(cfg *config.Config) error {
		otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans)))
		addr, err := fleettest.FreeAddr()
		metricsAddr, cfg.MetricsAddr = addr, addr
		return err
	},
}

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

func webApp(ns, name string, mut ...func(*v1alpha1.WebApp)) *v1alpha1.WebApp {
	app := &v1alpha1.WebApp{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       v1alpha1.WebAppSpec{Image: "nginx:1.27", Replicas: ptr(int32(2)), Port: 8080},
	}
	for _, f := range mut {
		f(app)
	}
	return app
}

func ptr[T any](v T) *T { return &v }

func eventually(t *testing.T, check func() error) {
	t.Helper()
	if err := fleettest.Eventually(context.Background(), wait, check); err != nil {
		t.Fatal(err)
	}
}

func get[T client.Object](t *testing.T, member string, ns, name string, obj T) T {
	t.Helper()
	fleettest.Must(t, fleet.Members[member].Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj))
	return obj
}

func waitFor[T client.Object](t *testing.T, member, ns, name string, obj T) T {
	t.Helper()
	eventually(t, func() error {
		return fleet.Members[member].Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj)
	})
	return obj
}

// setAvailable plays the Deployment controller, which envtest does not run.
func setAvailable(t *testing.T, member string, dep *appsv1.Deployment, available int32) {
	t.Helper()
	c := fleet.Members[member].Client
	eventually(t, func() error {
		cur := &appsv1.Deployment{}
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(dep), cur); err != nil {
			return err
		}
		replicas := int32(1)
		if cur.Spec.Replicas != nil {
			replicas = *cur.Spec.Replicas
		}
		cur.Status = appsv1.DeploymentStatus{
			ObservedGeneration: cur.Generation,
			Replicas:           replicas,
			UpdatedReplicas:    replicas,
			ReadyReplicas:      available,
			AvailableReplicas:  available,
		}
		return c.Status().Update(context.Background(), cur)
	})
}

func TestWebAppChildrenInOwnMemberOnly(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "alpha", "beta")
	a := fleet.Members["alpha"].Client
	b := fleet.Members["beta"].Client

	app := webApp(ns, "shop", func(w *v1alpha1.WebApp) {
		w.Spec.Storage = &v1alpha1.StorageSpec{Size: resource.MustParse("1Gi")}
		w.Spec.Env = []corev1.EnvVar{{Name: "MODE", Value: "prod"}}
		w.Spec.InitContainer = &v1alpha1.InitContainerSpec{Image: "busybox:1.36", Command: []string{"sh", "-c", "sleep 1"}, RestartPolicy: ptr(corev1.ContainerRestartPolicyAlways)}
	})
	fleettest.Must(t, a.Create(ctx, app))

	dep := waitFor(t, "alpha", ns, "shop", &appsv1.Deployment{})
	svc := waitFor(t, "alpha", ns, "shop", &corev1.Service{})
	pvc := waitFor(t, "alpha", ns, "shop-data", &corev1.PersistentVolumeClaim{})
	get(t, "alpha", ns, "shop", app)
	for _, obj := range []client.Object{dep, svc, pvc} {
		if !metav1.IsControlledBy(obj, app) {
			t.Errorf("%T %s is not controlled by the WebApp: %v", obj, obj.GetName(), obj.GetOwnerReferences())
		}
		if obj.GetLabels()[v1alpha1.LabelManagedBy] != "fleethub" {
			t.Errorf("%T %s lacks the managed-by label: %v", obj, obj.GetName(), obj.GetLabels())
		}
	}
	pod := dep.Spec.Template.Spec
	if got := pod.Containers[0].Image; got != "nginx:1.27" {
		t.Errorf("image = %q", got)
	}
	if len(pod.InitContainers) != 1 || pod.InitContainers[0].Name != "init" || pod.InitContainers[0].RestartPolicy == nil {
		t.Errorf("init container not a native sidecar: %+v", pod.InitContainers)
	}
	if m := pod.Containers[0].VolumeMounts; len(m) != 1 || m[0].MountPath != v1alpha1.WebAppStorageMountPath {
		t.Errorf("volume mounts = %+v", m)
	}
	if !slices.ContainsFunc(app.Finalizers, func(s string) bool { return s == v1alpha1.Finalizer }) {
		t.Errorf("finalizer missing: %v", app.Finalizers)
	}

	// Nothing leaks into beta.
	time.Sleep(500 * time.Millisecond)
	if err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: "shop"}, &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Fatalf("beta has a Deployment for alpha's WebApp: %v", err)
	}

	// beta's own WebApp is reconciled independently.
	fleettest.Must(t, b.Create(ctx, webApp(ns, "blog", func(w *v1alpha1.WebApp) { w.Spec.Image = "ghost:5" })))
	bdep := waitFor(t, "beta", ns, "blog", &appsv1.Deployment{})
	if bdep.Spec.Template.Spec.Containers[0].Image != "ghost:5" {
		t.Errorf("beta image = %q", bdep.Spec.Template.Spec.Containers[0].Image)
	}
	if err := a.Get(ctx, client.ObjectKey{Namespace: ns, Name: "blog"}, &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Fatalf("alpha has a Deployment for beta's WebApp: %v", err)
	}
}

// withResync runs the rest of t against a manager whose resync is resync,
// and gives the later tests a manager like the suite's again.
func withResync(t *testing.T, resync time.Duration) {
	t.Helper()
	ctx := context.Background()
	restart := func(cfg config.Config) {
		t.Helper()
		fleettest.Must(t, mgr.Stop())
		m, err := fleet.StartManager(cfg)
		fleettest.Must(t, err)
		mgr, suite.Manager = m, m
		fleettest.Must(t, mgr.WaitEngaged(ctx, suite.Members...))
	}
	cfg := fleettest.TestConfig()
	cfg.ResyncInterval = resync
	restart(cfg)
	t.Cleanup(func() {
		cfg := fleettest.TestConfig()
		fleettest.Must(t, suite.Configure(&cfg))
		restart(cfg)
	})
}

// Drift is repaired by the watches on the children, not by the resync: the
// resync here is far longer than the test's deadline.
func TestWebAppDriftAndSpecChanges(t *testing.T) {
	setup(t)
	withResync(t, time.Hour)
	ctx := context.Background()
	ns := namespace(t, "alpha")
	c := fleet.Members["alpha"].Client
	app := webApp(ns, "api")
	fleettest.Must(t, c.Create(ctx, app))
	waitFor(t, "alpha", ns, "api", &appsv1.Deployment{})
	waitFor(t, "alpha", ns, "api", &corev1.Service{})

	// Another tool annotates the Deployment: the field is not ours and survives.
	fleettest.Must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		dep := get(t, "alpha", ns, "api", &appsv1.Deployment{})
		dep.Annotations = map[string]string{"mesh.example.com/inject": "true"}
		return c.Update(ctx, dep)
	}))

	// Spec change → Deployment updated.
	fleettest.Must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		get(t, "alpha", ns, "api", app)
		app.Spec.Image = "nginx:1.28"
		app.Spec.Replicas = ptr(int32(3))
		return c.Update(ctx, app)
	}))
	eventually(t, func() error {
		d := get(t, "alpha", ns, "api", &appsv1.Deployment{})
		if img := d.Spec.Template.Spec.Containers[0].Image; img != "nginx:1.28" || *d.Spec.Replicas != 3 {
			return fmt.Errorf("deployment not updated: image %s replicas %d", img, *d.Spec.Replicas)
		}
		return nil
	})

	// Image edited by hand → restored.
	fleettest.Must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d := get(t, "alpha", ns, "api", &appsv1.Deployment{})
		d.Spec.Template.Spec.Containers[0].Image = "evil:latest"
		return c.Update(ctx, d)
	}))
	eventually(t, func() error {
		d := get(t, "alpha", ns, "api", &appsv1.Deployment{})
		if img := d.Spec.Template.Spec.Containers[0].Image; img != "nginx:1.28" {
			return fmt.Errorf("image not restored: %s", img)
		}
		return nil
	})

	// Service deleted by hand → recreated. The reconciles the image repair
	// set off settle first, so only the Service's own watch event can
	// bring the next one (the resync is an hour away).
	time.Sleep(2 * time.Second)
	svc := get(t, "alpha", ns, "api", &corev1.Service{})
	fleettest.Must(t, c.Delete(ctx, svc))
	eventually(t, func() error {
		s := &corev1.Service{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(svc), s); err != nil {
			return err
		}
		if s.UID == svc.UID {
			return fmt.Errorf("service not yet recreated")
		}
		return nil
	})

	// The other tool's annotation survived all of it.
	d := get(t, "alpha", ns, "api", &appsv1.Deployment{})
	if d.Annotations["mesh.example.com/inject"] != "true" {
		t.Errorf("foreign annotation lost: %v", d.Annotations)
	}

	// Omitting replicas hands the count to someone else (an HPA): we stop owning it.
	fleettest.Must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		get(t, "alpha", ns, "api", app)
		app.Spec.Replicas = nil
		return c.Update(ctx, app)
	}))
	eventually(t, func() error {
		d := get(t, "alpha", ns, "api", &appsv1.Deployment{})
		for _, mf := range d.ManagedFields {
			if mf.Manager == v1alpha1.FieldManager && mf.FieldsV1 != nil && strings.Contains(mf.FieldsV1.GetRawString(), `"f:replicas"`) {
				return fmt.Errorf("fleethub still owns spec.replicas")
			}
		}
		return nil
	})
	fleettest.Must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d := get(t, "alpha", ns, "api", &appsv1.Deployment{})
		d.Spec.Replicas = ptr(int32(7))
		return c.Update(ctx, d)
	}))
	time.Sleep(3 * time.Second) // the edit's watch event has been reconciled
	if d := get(t, "alpha", ns, "api", &appsv1.Deployment{}); *d.Spec.Replicas != 7 {
		t.Errorf("replicas set by another owner were overwritten: %d", *d.Spec.Replicas)
	}
}

func TestWebAppStatusFollowsDeployment(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "beta")
	c := fleet.Members["beta"].Client
	app := webApp(ns, "web")
	fleettest.Must(t, c.Create(ctx, app))
	dep := waitFor(t, "beta", ns, "web", &appsv1.Deployment{})

	// Not yet available → Ready=False with a reason.
	eventually(t, func() error {
		get(t, "beta", ns, "web", app)
		r := meta.FindStatusCondition(app.Status.Conditions, v1alpha1.ConditionReady)
		if r == nil || r.Status != metav1.ConditionFalse || r.Reason == "" {
			return fmt.Errorf("want Ready=False with a reason, got %+v", r)
		}
		return nil
	})

	setAvailable(t, "beta", dep, 2)
	eventually(t, func() error {
		get(t, "beta", ns, "web", app)
		r := meta.FindStatusCondition(app.Status.Conditions, v1alpha1.ConditionReady)
		if r == nil || r.Status != metav1.ConditionTrue {
			return fmt.Errorf("want Ready=True, got %+v", r)
		}
		if app.Status.AvailableReplicas != 2 || app.Status.ObservedGeneration != app.Generation || r.ObservedGeneration != app.Generation {
			return fmt.Errorf("status = %+v", app.Status)
		}
		for _, typ := range []string{v1alpha1.ConditionAvailable, v1alpha1.ConditionProgressing, v1alpha1.ConditionDegraded} {
			if meta.FindStatusCondition(app.Status.Conditions, typ) == nil {
				return fmt.Errorf("condition %s missing", typ)
			}
		}
		return nil
	})

	// Losing a pod → Ready=False, ReplicasUnavailable.
	setAvailable(t, "beta", dep, 1)
	eventually(t, func() error {
		get(t, "beta", ns, "web", app)
		r := meta.FindStatusCondition(app.Status.Conditions, v1alpha1.ConditionReady)
		if r == nil || r.Status != metav1.ConditionFalse || r.Reason != v1alpha1.ReasonReplicasUnavailable {
			return fmt.Errorf("want Ready=False/ReplicasUnavailable, got %+v", r)
		}
		return nil
	})
}

func TestWebAppDeletion(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "alpha")
	c := fleet.Members["alpha"].Client
	app := webApp(ns, "gone")
	fleettest.Must(t, c.Create(ctx, app))
	waitFor(t, "alpha", ns, "gone", &appsv1.Deployment{})
	eventually(t, func() error {
		get(t, "alpha", ns, "gone", app)
		if len(app.Finalizers) == 0 {
			return fmt.Errorf("no finalizer yet")
		}
		return nil
	})
	fleettest.Must(t, c.Delete(ctx, app))
	eventually(t, func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(app), &v1alpha1.WebApp{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("WebApp still there: %w", err)
		}
		for _, obj := range []client.Object{&appsv1.Deployment{}, &corev1.Service{}} {
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "gone"}, obj); !apierrors.IsNotFound(err) {
				return fmt.Errorf("%T still there: %w", obj, err)
			}
		}
		return nil
	})
}

func TestWebAppSteadyStateWritesNothing(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "alpha", "beta")
	for _, m := range []string{"alpha", "beta"} {
		c := fleet.Members[m].Client
		for i := range 3 {
			app := webApp(ns, fmt.Sprintf("app-%d", i), func(w *v1alpha1.WebApp) {
				w.Spec.Env = []corev1.EnvVar{{Name: "A", Value: "1"}}
				w.Spec.Resources = &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0.1")}}
				if i == 0 {
					w.Spec.Storage = &v1alpha1.StorageSpec{Size: resource.MustParse("512Mi")}
				}
			})
			fleettest.Must(t, c.Create(ctx, app))
			dep := waitFor(t, m, ns, app.Name, &appsv1.Deployment{})
			setAvailable(t, m, dep, 2)
		}
	}
	// Converged: every WebApp Ready.
	for _, m := range []string{"alpha", "beta"} {
		eventually(t, func() error {
			list := &v1alpha1.WebAppList{}
			if err := fleet.Members[m].Client.List(ctx, list, client.InNamespace(ns)); err != nil {
				return err
			}
			for _, app := range list.Items {
				if !meta.IsStatusConditionTrue(app.Status.Conditions, v1alpha1.ConditionReady) {
					return fmt.Errorf("%s/%s not ready: %+v", m, app.Name, app.Status.Conditions)
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
	}
}

func TestMemberLifecycle(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "beta")
	c := fleet.Members["beta"].Client

	// Deleting the Secret disengages the member: new CRs there are not reconciled.
	fleettest.Must(t, fleet.Unregister(ctx, "beta"))
	eventually(t, func() error {
		if _, ok := mgr.Provider.Members()["beta"]; ok {
			return fmt.Errorf("beta still registered")
		}
		return nil
	})
	app := webApp(ns, "orphan")
	fleettest.Must(t, c.Create(ctx, app))
	time.Sleep(3 * time.Second)
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "orphan"}, &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a disengaged member was reconciled: %v", err)
	}

	// An invalid Secret gets a Warning Event and harms no one else.
	fleettest.Must(t, fleet.PutSecret(ctx, "broken", map[string][]byte{membersecret.Key: []byte("not: [a kubeconfig")}))
	fleettest.Must(t, fleet.PutSecret(ctx, "empty", map[string][]byte{"other-key": []byte("x")}))
	eventually(t, func() error {
		for _, name := range []string{"broken", "empty"} {
			if err := warningFor(ctx, name); err != nil {
				return err
			}
		}
		return nil
	})
	a := fleet.Members["alpha"].Client
	ans := namespace(t, "alpha")
	fleettest.Must(t, a.Create(ctx, webApp(ans, "still-fine")))
	waitFor(t, "alpha", ans, "still-fine", &appsv1.Deployment{})

	// Re-registering with rotated credentials works again, and picks up the
	// CR created while the member was away. This registration goes through
	// a proxy, so the test can take the old connection away below.
	proxy, err := fleet.RegisterVia(ctx, "beta")
	fleettest.Must(t, err)
	defer proxy.Cut()
	fleettest.Must(t, mgr.WaitEngaged(ctx, "beta"))
	waitFor(t, "beta", ns, "orphan", &appsv1.Deployment{})

	// Rotating credentials in place (new credentials, direct address)
	// re-engages the member: with the old connection cut, only the new
	// engagement can reconcile the WebApp created after the rotation.
	fleettest.Must(t, fleet.Register(ctx, "beta"))
	proxy.Cut()
	fleettest.Must(t, mgr.WaitEngaged(ctx, "beta"))
	fleettest.Must(t, c.Create(ctx, webApp(ns, "after-rotation")))
	waitFor(t, "beta", ns, "after-rotation", &appsv1.Deployment{})

	fleettest.Must(t, fleet.Unregister(ctx, "broken"))
	fleettest.Must(t, fleet.Unregister(ctx, "empty"))
}

func warningFor(ctx context.Context, secret string) error {
	list := &eventsv1.EventList{}
	if err := fleet.Hub.Client.List(ctx, list, client.InNamespace(fleettest.HubNamespace)); err != nil {
		return err
	}
	for _, e := range list.Items {
		if e.Regarding.Kind == "Secret" && e.Regarding.Name == secret && e.Type == corev1.EventTypeWarning && e.Reason == membersecret.ReasonInvalidKubeconfig {
			return nil
		}
	}
	return fmt.Errorf("no %s Warning event for Secret %s", membersecret.ReasonInvalidKubeconfig, secret)
}

func TestWebAppSchemaRejectsBadSpecs(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "alpha")
	c := fleet.Members["alpha"].Client
	cases := map[string]struct {
		mut  func(*v1alpha1.WebApp)
		want string
	}{
		"empty image":       {func(w *v1alpha1.WebApp) { w.Spec.Image = "" }, "spec.image"},
		"image with space":  {func(w *v1alpha1.WebApp) { w.Spec.Image = "nginx latest" }, "image must not contain whitespace"},
		"port zero":         {func(w *v1alpha1.WebApp) { w.Spec.Port = -1 }, "spec.port"},
		"port too high":     {func(w *v1alpha1.WebApp) { w.Spec.Port = 70000 }, "spec.port"},
		"negative replicas": {func(w *v1alpha1.WebApp) { w.Spec.Replicas = ptr(int32(-1)) }, "spec.replicas"},
		"zero storage": {func(w *v1alpha1.WebApp) {
			w.Spec.Storage = &v1alpha1.StorageSpec{Size: resource.MustParse("0")}
		}, "storage.size must be greater than zero"},
		"bad restartPolicy": {func(w *v1alpha1.WebApp) {
			w.Spec.InitContainer = &v1alpha1.InitContainerSpec{Image: "busybox", RestartPolicy: ptr(corev1.ContainerRestartPolicy("Sometimes"))}
		}, "spec.initContainer.restartPolicy"},
		"init named app": {func(w *v1alpha1.WebApp) {
			w.Spec.InitContainer = &v1alpha1.InitContainerSpec{Name: "app", Image: "busybox"}
		}, "must not be 'app'"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			app := webApp(ns, "bad", tc.mut)
			err := c.Create(ctx, app)
			if err == nil {
				_ = c.Delete(ctx, app)
				t.Fatalf("apiserver accepted the spec")
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an Invalid error mentioning %q, got: %v", tc.want, err)
			}
		})
	}
	// Port 0 is the zero value and means "default": it must come back as 8080.
	app := webApp(ns, "default-port", func(w *v1alpha1.WebApp) { w.Spec.Port = 0 })
	fleettest.Must(t, c.Create(ctx, app))
	if get(t, "alpha", ns, "default-port", app).Spec.Port != 8080 {
		t.Errorf("default port = %d", app.Spec.Port)
	}
}

// The metrics endpoint serves per-cluster object and reconcile metrics with
// the right labels, next to controller-runtime's and the member health ones.
func TestMetricsEndpoint(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "alpha")
	c := fleet.Members["alpha"].Client
	app := webApp(ns, "measured")
	fleettest.Must(t, c.Create(ctx, app))
	dep := waitFor(t, "alpha", ns, "measured", &appsv1.Deployment{})
	setAvailable(t, "alpha", dep, 2)
	eventually(t, func() error {
		body, err := scrape()
		if err != nil {
			return err
		}
		for _, want := range []string{
			`fleethub_managed_objects{cluster="alpha",kind="WebApp"}`,
			`fleethub_ready_objects{cluster="alpha",kind="WebApp"}`,
			`fleethub_reconcile_total{cluster="alpha",kind="WebApp",result="success"}`,
			`fleethub_reconcile_duration_seconds_bucket{cluster="beta",kind="WebApp"`,
			`fleethub_member_cluster_ready{cluster="alpha"} 1`,
			`controller_runtime_reconcile_total{controller="webapp",result="success"}`,
		} {
			if !strings.Contains(body, want) {
				return fmt.Errorf("/metrics lacks %s", want)
			}
		}
		return nil
	})
}

func scrape() (string, error) {
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// Every reconcile is a span carrying the cluster, with child spans per phase.
func TestReconcileIsTraced(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "beta")
	fleettest.Must(t, fleet.Members["beta"].Client.Create(ctx, webApp(ns, "traced")))
	waitFor(t, "beta", ns, "traced", &appsv1.Deployment{})
	eventually(t, func() error {
		var root *tracetest.SpanStub
		all := spans.GetSpans()
		for i := range all {
			s := &all[i]
			if s.Name != "Reconcile WebApp" {
				continue
			}
			attrs := map[string]string{}
			for _, a := range s.Attributes {
				attrs[string(a.Key)] = a.Value.Emit()
			}
			if attrs["fleethub.cluster"] == "beta" && attrs["k8s.namespace.name"] == ns && attrs["fleethub.name"] == "traced" {
				root = s
				break
			}
		}
		if root == nil {
			return fmt.Errorf("no Reconcile WebApp span for beta/%s/traced", ns)
		}
		phases := map[string]bool{}
		for _, s := range all {
			if s.Parent.SpanID() == root.SpanContext.SpanID() {
				phases[s.Name] = true
			}
		}
		for _, p := range []string{"get", "children", "status"} {
			if !phases[p] {
				return fmt.Errorf("phase span %q missing under the reconcile span (have %v)", p, phases)
			}
		}
		return nil
	})
}
