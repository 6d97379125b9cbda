package kubeconfig_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/cmd/manager/app/fleettest"
	"github.com/fleethub/fleethub/deploy"
	"github.com/fleethub/fleethub/pkg/controller/simpledb"
	"github.com/fleethub/fleethub/pkg/membersecret"
	"github.com/fleethub/fleethub/providers/kubeconfig"
)

var (
	fleet *fleettest.Fleet
	mgr   *fleettest.Manager
	// m1 and m2 are registered; m3 and m4 have no CRDs and are registered
	// by the tests that need them.
	suite = &fleettest.Suite{
		Members:      []string{"m1", "m2"},
		Unregistered: []string{"m3", "m4"},
		Options:      fleettest.Options{BareMembers: []string{"m3", "m4"}},
	}
)

const wait = 30 * time.Second

func TestMain(m *testing.M) {
	code := m.Run()
	suite.Close()
	os.Exit(code)
}

func setup(t *testing.T) {
	t.Helper()
	suite.Setup(t)
	fleet, mgr = suite.Fleet, suite.Manager
}

func eventually(t *testing.T, check func() error) {
	t.Helper()
	if err := fleettest.Eventually(context.Background(), wait, check); err != nil {
		t.Fatal(err)
	}
}

// annotations reads the member Secret's hub-written annotations.
func annotations(name string) (map[string]string, error) {
	s := &corev1.Secret{}
	err := fleet.Hub.Client.Get(context.Background(), client.ObjectKey{Namespace: fleettest.HubNamespace, Name: name}, s)
	return s.Annotations, err
}

func waitState(t *testing.T, name string, want membersecret.State, reason string) map[string]string {
	t.Helper()
	var got map[string]string
	eventually(t, func() error {
		a, err := annotations(name)
		if err != nil {
			return err
		}
		got = a
		if a[membersecret.AnnotationState] != string(want) || (reason != "" && a[membersecret.AnnotationReason] != reason) {
			return fmt.Errorf("member %s: state %q reason %q (%s), want %s %s", name, a[membersecret.AnnotationState], a[membersecret.AnnotationReason], a[membersecret.AnnotationMessage], want, reason)
		}
		if a[membersecret.AnnotationLastTransition] == "" {
			return fmt.Errorf("no last-transition annotation")
		}
		return nil
	})
	return got
}

// reconciles proves a member is served: a new WebApp there gets its Deployment.
func reconciles(t *testing.T, member string) {
	t.Helper()
	ctx := context.Background()
	c := fleet.Members[member].Client
	name := fmt.Sprintf("probe-%d", time.Now().UnixNano())
	app := &v1alpha1.WebApp{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: v1alpha1.WebAppSpec{Image: "nginx"}}
	fleettest.Must(t, c.Create(ctx, app))
	eventually(t, func() error {
		return c.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, &appsv1.Deployment{})
	})
}

func TestReadyMemberIsAnnotatedAndMeasured(t *testing.T) {
	setup(t)
	a := waitState(t, "m1", membersecret.StateReady, "Connected")
	if !strings.Contains(a[membersecret.AnnotationKinds], "WebApp") {
		t.Errorf("kinds annotation = %q", a[membersecret.AnnotationKinds])
	}
	if v, ok := gauge("fleethub_member_cluster_ready", "cluster", "m1"); !ok || v != 1 {
		t.Errorf("fleethub_member_cluster_ready{cluster=m1} = %v (present %v), want 1", v, ok)
	}
	eventually(t, func() error {
		if v, ok := gauge("fleethub_member_clusters", "state", "Ready"); !ok || v < 2 {
			return fmt.Errorf("fleethub_member_clusters{state=Ready} = %v", v)
		}
		return nil
	})
	// An Event on the Secret recorded the transition.
	eventually(t, func() error { return eventFor("m1", string(membersecret.StateReady)) })
}

func TestHostileKubeconfigsAreRejected(t *testing.T) {
	setup(t)
	ctx := context.Background()
	good, err := fleet.KubeconfigWithToken("m1", "x")
	fleettest.Must(t, err)
	cases := map[string]struct {
		data   []byte
		reason string
	}{
		"exec":      {[]byte(strings.Replace(string(good), "token: x", "exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: [-c, 'touch /tmp/pwned'], interactiveMode: Never}", 1)), kubeconfig.ReasonExecPluginRefused},
		"tokenfile": {[]byte(strings.Replace(string(good), "token: x", "tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token", 1)), kubeconfig.ReasonLocalFileRefused},
		"insecure":  {[]byte(strings.Replace(string(good), "certificate-authority-data:", "insecure-skip-tls-verify: true\n    x-ca:", 1)), kubeconfig.ReasonInsecureRefused},
		"garbage":   {[]byte("{{{{ not a kubeconfig"), kubeconfig.ReasonMalformedKubeconfig},
		"oversized": {[]byte(strings.Repeat("#", kubeconfig.MaxKubeconfigBytes+1)), kubeconfig.ReasonOversizedKubeconfig},
		"empty":     {nil, kubeconfig.ReasonMissingKubeconfig},
	}
	for name, tc := range cases {
		secret := "hostile-" + name
		fleettest.Must(t, fleet.PutSecret(ctx, secret, map[string][]byte{membersecret.Key: tc.data}))
		defer func() { _ = fleet.Unregister(ctx, secret) }()
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			waitState(t, "hostile-"+name, membersecret.StateRejected, tc.reason)
			eventually(t, func() error { return eventFor("hostile-"+name, membersecret.ReasonInvalidKubeconfig) })
		})
	}
	if _, err := os.Stat("/tmp/pwned"); err == nil {
		t.Fatal("an exec plugin from a member Secret ran on the hub")
	}
	reconciles(t, "m1")
}

func TestWrongTokenIsUnauthorized(t *testing.T) {
	setup(t)
	ctx := context.Background()
	kc, err := fleet.KubeconfigWithToken("m2", "not-a-valid-token")
	fleettest.Must(t, err)
	fleettest.Must(t, fleet.PutSecret(ctx, "m2-bad-token", map[string][]byte{membersecret.Key: kc}))
	defer func() { _ = fleet.Unregister(ctx, "m2-bad-token") }()
	waitState(t, "m2-bad-token", membersecret.StateUnauthorized, "")
	if v, ok := gauge("fleethub_member_cluster_ready", "cluster", "m2-bad-token"); !ok || v != 0 {
		t.Errorf("ready gauge = %v (present %v), want 0", v, ok)
	}
}

func TestMemberMissingCRDsIsEngagedWhenTheyArrive(t *testing.T) {
	setup(t)
	ctx := context.Background()
	fleettest.Must(t, fleet.Register(ctx, "m3"))
	defer func() { _ = fleet.Unregister(ctx, "m3") }()
	a := waitState(t, "m3", membersecret.StateMissingCRDs, "CRDsNotInstalled")
	if a[membersecret.AnnotationKinds] != "" {
		t.Errorf("kinds = %q, want none", a[membersecret.AnnotationKinds])
	}
	reconciles(t, "m1") // others unaffected

	// The WebApp CRD arrives: WebApp starts there without any restart.
	_, err := envtest.InstallCRDs(fleet.Members["m3"].Config, envtest.CRDInstallOptions{
		Paths: []string{filepath.Join("..", "..", "deploy", "crd", "bases", "app.54b3r.io_webapps.yaml")},
	})
	fleettest.Must(t, err)
	eventually(t, func() error {
		a, err := annotations("m3")
		if err != nil {
			return err
		}
		if !strings.Contains(a[membersecret.AnnotationKinds], "WebApp") {
			return fmt.Errorf("kinds = %q", a[membersecret.AnnotationKinds])
		}
		return nil
	})
	reconciles(t, "m3")

	// Then the SimpleDB CRD: SimpleDB starts there too, still without a restart.
	_, err = envtest.InstallCRDs(fleet.Members["m3"].Config, envtest.CRDInstallOptions{
		Paths: []string{filepath.Join("..", "..", "deploy", "crd", "bases", "app.54b3r.io_simpledbs.yaml")},
	})
	fleettest.Must(t, err)
	c := fleet.Members["m3"].Client
	eventually(t, func() error {
		a, err := annotations("m3")
		if err != nil {
			return err
		}
		if !strings.Contains(a[membersecret.AnnotationKinds], "SimpleDB") {
			return fmt.Errorf("kinds = %q", a[membersecret.AnnotationKinds])
		}
		return nil
	})
	db := &v1alpha1.SimpleDB{ObjectMeta: metav1.ObjectMeta{Name: "late", Namespace: "default"}}
	fleettest.Must(t, c.Create(ctx, db))
	eventually(t, func() error {
		return c.Get(ctx, client.ObjectKey{Namespace: "default", Name: simpledb.SecretName(db)}, &corev1.Secret{})
	})
}

func TestUnreachableMemberRecovers(t *testing.T) {
	setup(t)
	ctx := context.Background()
	// Reach m2 through a proxy we can cut, as a network partition would.
	proxy, err := fleet.RegisterVia(ctx, "m2")
	fleettest.Must(t, err)
	defer func() {
		_ = proxy.Restore()
		fleettest.Must(t, fleet.Register(ctx, "m2"))
	}()
	waitState(t, "m2", membersecret.StateReady, "")
	reconciles(t, "m2")

	proxy.Cut()
	waitState(t, "m2", membersecret.StateUnreachable, "")
	eventually(t, func() error { return eventFor("m2", string(membersecret.StateUnreachable)) })
	if v, _ := gauge("fleethub_member_cluster_ready", "cluster", "m2"); v != 0 {
		t.Errorf("ready gauge = %v while unreachable", v)
	}
	reconciles(t, "m1") // the healthy member keeps converging

	fleettest.Must(t, proxy.Restore())
	waitState(t, "m2", membersecret.StateReady, "")
	reconciles(t, "m2")
}

func TestCacheHoldsOnlyManagedObjects(t *testing.T) {
	setup(t)
	ctx := context.Background()
	c := fleet.Members["m1"].Client
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "noise"}}
	fleettest.Must(t, c.Create(ctx, ns))
	const n = 150
	for i := range n {
		name := fmt.Sprintf("noise-%d", i)
		fleettest.Must(t, c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "noise"}, Data: map[string]string{"k": strings.Repeat("v", 1024)}}))
		fleettest.Must(t, c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "noise"}, Data: map[string][]byte{"k": []byte("v")}}))
		labels := map[string]string{"app": name}
		fleettest.Must(t, c.Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "noise"},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}},
			},
		}))
	}
	reconciles(t, "m1") // at least one managed Deployment exists

	cl, err := mgr.Provider.Get(ctx, "m1")
	fleettest.Must(t, err)
	deps := &appsv1.DeploymentList{}
	fleettest.Must(t, cl.GetCache().List(ctx, deps))
	if len(deps.Items) == 0 {
		t.Fatal("the cache holds no managed Deployment")
	}
	for _, d := range deps.Items {
		if d.Labels[v1alpha1.LabelManagedBy] != v1alpha1.ManagedByValue {
			t.Fatalf("the hub cached an unmanaged Deployment %s/%s", d.Namespace, d.Name)
		}
	}
	for _, list := range []client.ObjectList{&corev1.ConfigMapList{}, &corev1.SecretList{}} {
		fleettest.Must(t, cl.GetCache().List(ctx, list, client.InNamespace("noise")))
		if items, _ := metaItems(list); items != 0 {
			t.Errorf("the hub cached %d unmanaged %T", items, list)
		}
	}
}

func TestHubReadsOnlyItsOwnNamespace(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere"}}
	fleettest.Must(t, fleet.Hub.Client.Create(ctx, ns))
	kc, err := fleet.Kubeconfig("m1")
	fleettest.Must(t, err)
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "sneaky", Namespace: "elsewhere", Labels: map[string]string{membersecret.Label: "true"}},
		Data:       map[string][]byte{membersecret.Key: kc},
	}
	fleettest.Must(t, fleet.Hub.Client.Create(ctx, s))
	time.Sleep(2 * time.Second)
	if _, ok := mgr.Provider.Members()["sneaky"]; ok {
		t.Fatal("a Secret outside the hub namespace was registered")
	}
}

func TestRemovedMemberReleasesEverything(t *testing.T) {
	setup(t)
	ctx := context.Background()
	settle := func() int {
		var n int
		for range 20 {
			runtime.GC()
			time.Sleep(100 * time.Millisecond)
			n = runtime.NumGoroutine()
		}
		return n
	}
	base := settle()
	for round := range 3 {
		fleettest.Must(t, fleet.Register(ctx, "m3"))
		fleettest.Must(t, mgr.WaitEngaged(ctx, "m3"))
		if round == 0 {
			if _, ok := gauge("fleethub_member_cluster_ready", "cluster", "m3"); !ok {
				t.Fatal("no ready series for m3 while registered")
			}
		}
		fleettest.Must(t, fleet.Unregister(ctx, "m3"))
		eventually(t, func() error {
			if _, ok := mgr.Provider.Members()["m3"]; ok {
				return fmt.Errorf("m3 still registered")
			}
			return nil
		})
	}
	// The provider forgets a member as soon as it is removed, but drops its
	// series only once the member's goroutine has ended (remove waits for
	// it); so the series may outlive the name for a moment, never for long.
	eventually(t, func() error {
		if _, ok := gauge("fleethub_member_cluster_ready", "cluster", "m3"); ok {
			return fmt.Errorf("metrics series of a removed member remain")
		}
		return nil
	})
	// Three register/unregister rounds must not leave the member's cache,
	// informers or connections behind (a leaked cache alone holds dozens).
	// multicluster-runtime v0.24.1 keeps one goroutine per watch source per
	// engagement until the controller stops (startWithinContext waits on the
	// controller's context): m3 has the WebApp and SimpleDB CRDs by now, so
	// each round leaves up to 9 (4 + 5 sources) of those; nothing else.
	const upstreamPerRound = 9
	eventually(t, func() error {
		if now := settle(); now > base+10+3*upstreamPerRound {
			return fmt.Errorf("goroutines: %d before, %d after removing the member", base, now)
		}
		return nil
	})
}

func eventFor(secret, reason string) error {
	list := &eventsv1.EventList{}
	if err := fleet.Hub.Client.List(context.Background(), list, client.InNamespace(fleettest.HubNamespace)); err != nil {
		return err
	}
	for _, e := range list.Items {
		if e.Regarding.Kind == "Secret" && e.Regarding.Name == secret && e.Reason == reason {
			return nil
		}
	}
	return fmt.Errorf("no %s Event for Secret %s", reason, secret)
}

// gauge reads one gauge series from controller-runtime's registry.
func gauge(name, label, value string) (float64, bool) {
	families, err := metrics.Registry.Gather()
	if err != nil {
		return 0, false
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabel(m, label, value) {
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

func metaItems(list client.ObjectList) (int, error) {
	switch l := list.(type) {
	case *corev1.ConfigMapList:
		return len(l.Items), nil
	case *corev1.SecretList:
		return len(l.Items), nil
	}
	return 0, fmt.Errorf("unexpected %T", list)
}

// Two replicas against one hub: exactly one leads and engages members; when
// it stops, the other takes over within the lease duration.
func TestLeaderElectionFailover(t *testing.T) {
	setup(t)
	ctx := context.Background()
	const ns = "fleethub-ha"
	fleettest.Must(t, fleet.Hub.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	kc, err := fleet.Kubeconfig("m1")
	fleettest.Must(t, err)
	fleettest.Must(t, fleet.PutSecretIn(ctx, ns, "m1", map[string][]byte{membersecret.Key: kc}))

	cfg := fleettest.TestConfig()
	cfg.HubNamespace = ns
	cfg.LeaderElect = true
	a, err := fleet.StartManager(cfg)
	fleettest.Must(t, err)
	b, err := fleet.StartManager(cfg)
	fleettest.Must(t, err)
	stopped := map[*fleettest.Manager]bool{}
	defer func() {
		for _, m := range []*fleettest.Manager{a, b} {
			if !stopped[m] {
				_ = m.Stop()
			}
		}
	}()

	var leader, follower *fleettest.Manager
	eventually(t, func() error {
		ea, eb := a.Provider.Members()["m1"], b.Provider.Members()["m1"]
		switch {
		case ea && eb:
			return fmt.Errorf("both replicas engaged the member")
		case ea:
			leader, follower = a, b
		case eb:
			leader, follower = b, a
		default:
			return fmt.Errorf("no replica engaged the member yet")
		}
		return nil
	})
	// The follower stays passive while the leader holds the lease.
	time.Sleep(3 * time.Second)
	if len(follower.Provider.Members()) != 0 {
		t.Fatalf("the follower registered members: %v", follower.Provider.Members())
	}

	fleettest.Must(t, leader.Stop())
	stopped[leader] = true
	start := time.Now()
	eventually(t, func() error {
		if !follower.Provider.Members()["m1"] {
			return fmt.Errorf("the follower has not taken over")
		}
		return nil
	})
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("takeover took %s, more than the 15s lease plus a probe", took)
	}
	t.Logf("takeover after %s", time.Since(start).Round(100*time.Millisecond))
}

// A member whose apiserver accepts connections but never answers must not
// hold up anything: it is reported Unreachable after the engage deadline.
func TestBlackHoleMemberTimesOut(t *testing.T) {
	setup(t)
	ctx := context.Background()
	hole, err := fleettest.BlackHole()
	fleettest.Must(t, err)
	defer hole.Close()
	kc, err := fleet.KubeconfigWithToken("m1", "x")
	fleettest.Must(t, err)
	kcs := strings.Replace(string(kc), fleet.Members["m1"].Config.Host, "https://"+hole.Addr().String(), 1)
	fleettest.Must(t, fleet.PutSecret(ctx, "black-hole", map[string][]byte{membersecret.Key: []byte(kcs)}))
	defer func() { _ = fleet.Unregister(ctx, "black-hole") }()
	reconciles(t, "m1") // meanwhile the others are served
	waitState(t, "black-hole", membersecret.StateUnreachable, "Timeout")
}

// With --install-crds the hub installs its own CRDs in a member that has none,
// and the member becomes Ready with every kind engaged.
func TestInstallCRDs(t *testing.T) {
	setup(t)
	ctx := context.Background()
	const ns = "fleethub-installs"
	fleettest.Must(t, fleet.Hub.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	kc, err := fleet.Kubeconfig("m4")
	fleettest.Must(t, err)
	fleettest.Must(t, fleet.PutSecretIn(ctx, ns, "m4", map[string][]byte{membersecret.Key: kc}))
	cfg := fleettest.TestConfig()
	cfg.HubNamespace = ns
	cfg.InstallCRDs = true
	m, err := fleet.StartManager(cfg)
	fleettest.Must(t, err)
	defer func() { _ = m.Stop() }()
	eventually(t, func() error {
		st, kinds, _ := m.Provider.MemberState("m4")
		if st != membersecret.StateReady {
			return fmt.Errorf("m4 is %s with kinds %v", st, kinds)
		}
		return nil
	})
	crds, err := deploy.CRDObjects()
	fleettest.Must(t, err)
	for _, crd := range crds {
		got := &apiextensionsv1.CustomResourceDefinition{}
		fleettest.Must(t, fleet.Members["m4"].Client.Get(ctx, client.ObjectKey{Name: crd.GetName()}, got))
	}
}
