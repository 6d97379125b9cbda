package deploy_test

// The kustomize builds against real kube-apiservers (envtest): every object
// is accepted by a server-side dry-run with strict field validation and no
// warning (Pod Security "restricted" warns on the manager's pod template), and
// the hub manager runs with exactly the shipped RBAC, on the hub and in a
// member, through the identities the manifests create.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/fleethub/fleethub/api/v1alpha1"
	hubapp "github.com/fleethub/fleethub/cmd/manager/app"
	"github.com/fleethub/fleethub/cmd/manager/app/fleettest"
	"github.com/fleethub/fleethub/pkg/config"
	"github.com/fleethub/fleethub/pkg/membersecret"
)

const (
	memberName = "m1"
	fieldOwner = "fleethub-deploy-test"
	// The identities the manifests create: the manager's ServiceAccount on
	// the hub (deploy/rbac) and the hub's ServiceAccount in members
	// (deploy/member).
	hubUser    = "system:serviceaccount:fleethub-system:fleethub"
	memberSA   = "fleethub-hub"
	wait       = 60 * time.Second
	thirdParty = "testdata/crds"
)

var (
	fleet     *fleettest.Fleet
	setupOnce sync.Once
	setupErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fleet != nil {
		fleet.Stop()
	}
	os.Exit(code)
}

// startFleet starts, once, a hub with the third-party CRDs that deploy/
// refers to, and one member with nothing installed: the tests install it
// from deploy/member.
func startFleet(t *testing.T) *fleettest.Fleet {
	t.Helper()
	setupOnce.Do(func() {
		fleettest.SetupLogging()
		fleet, setupErr = fleettest.StartWith(fleettest.Options{BareMembers: []string{memberName}}, memberName)
		if setupErr != nil {
			return
		}
		_, setupErr = envtest.InstallCRDs(fleet.Hub.Config, envtest.CRDInstallOptions{
			Paths: []string{thirdParty}, ErrorIfPathMissing: true,
		})
	})
	if setupErr != nil {
		t.Fatalf("starting the test clusters: %v", setupErr)
	}
	return fleet
}

// warnings records the apiserver's warnings (Pod Security, deprecations,
// unknown fields).
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.msgs
	w.msgs = nil
	return out
}

// Every kustomization, and each delivery example, is accepted by a real
// apiserver: server-side apply, dry-run, strict field validation, and not a
// single warning.
func TestServerSideDryRun(t *testing.T) {
	f := startFleet(t)
	ctx := context.Background()
	w := &warnings{}
	cfg := rest.CopyConfig(f.Hub.Config)
	cfg.WarningHandlerWithContext = w
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	strict := client.WithFieldValidation(c, metav1.FieldValidationStrict)

	sets := map[string][]*unstructured.Unstructured{}
	for _, dir := range kustomizationDirs(t) {
		sets[dir] = build(t, dir)
	}
	examples, _ := filepath.Glob("overlays/examples/*.yaml")
	for _, file := range examples {
		sets[file] = readObjects(t, file)
	}
	for _, name := range slices.Sorted(maps.Keys(sets)) {
		t.Run(name, func(t *testing.T) {
			objs := sets[name]
			// A dry-run cannot create into a namespace that does not exist:
			// create the namespaces for real first (with their labels, so that
			// Pod Security judges the pods below).
			for _, ns := range namespacesOf(objs) {
				if err := ensureNamespace(ctx, c, ns, objs); err != nil {
					t.Fatal(err)
				}
			}
			_ = w.take()
			for _, o := range objs {
				err := strict.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()),
					client.FieldOwner(fieldOwner), client.ForceOwnership, client.DryRunAll)
				if err != nil {
					t.Errorf("%s %s/%s rejected: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
				}
				for _, msg := range w.take() {
					t.Errorf("%s %s/%s: apiserver warning: %s", o.GetKind(), o.GetNamespace(), o.GetName(), msg)
				}
			}
		})
	}
}

// The dry-run test would pass vacuously if the apiserver never warned: it
// does warn about a pod template the restricted Pod Security Standard forbids.
func TestDryRunCatchesPodSecurityViolations(t *testing.T) {
	f := startFleet(t)
	ctx := context.Background()
	w := &warnings{}
	cfg := rest.CopyConfig(f.Hub.Config)
	cfg.WarningHandlerWithContext = w
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	objs := build(t, "base")
	if err := ensureNamespace(ctx, c, hubNamespace, objs); err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		bad := o.DeepCopy()
		containers, _, _ := unstructured.NestedSlice(bad.Object, "spec", "template", "spec", "containers")
		unstructured.RemoveNestedField(containers[0].(map[string]any), "securityContext", "capabilities")
		if err := unstructured.SetNestedSlice(bad.Object, containers, "spec", "template", "spec", "containers"); err != nil {
			t.Fatal(err)
		}
		_ = w.take()
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(bad), client.FieldOwner(fieldOwner), client.ForceOwnership, client.DryRunAll); err != nil {
			t.Fatal(err)
		}
		if msgs := w.take(); !slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, "restricted") }) {
			t.Errorf("no Pod Security warning for a container that keeps its capabilities; warnings: %q", msgs)
		}
		return
	}
	t.Fatal("base has no Deployment")
}

// The hub manager runs with exactly the shipped RBAC: on the hub as the
// manager's ServiceAccount with the Role from deploy/base, in the member with
// a token of the ServiceAccount deploy/member binds to the generated
// ClusterRole. A WebApp is reconciled end to end, and the hub identity is
// refused everything outside its namespace.
func TestHubRunsWithTheShippedRBAC(t *testing.T) {
	f := startFleet(t)
	member := f.Members[memberName]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// The hub, as the staging overlay installs it; the member, as deploy/member does.
	hubObjs := build(t, "overlays/staging")
	applyAll(t, ctx, f.Hub.Client, hubObjs)
	applyAll(t, ctx, member.Client, build(t, "member"))
	waitCRDsEstablished(t, ctx, member.Client)

	// The member kubeconfig carries a token of fleethub-hub, as `kubectl
	// fleethub register` issues it (no exec plugin, no file reference).
	cs, err := kubernetes.NewForConfig(member.Config)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(hubNamespace).CreateToken(ctx, memberSA,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("requesting a token for %s: %v", memberSA, err)
	}
	kc, err := f.KubeconfigWithToken(memberName, tr.Status.Token)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Must(t, f.PutSecret(ctx, memberName, map[string][]byte{membersecret.Key: kc}))

	// The manager's configuration is the overlay's ConfigMap, as envFrom
	// gives it; only the listeners are off (tests share the host's ports)
	// and members are probed faster.
	env := maps.Clone(built{dir: "overlays/staging", objs: hubObjs}.configMap(t).Data)
	env["POD_NAMESPACE"] = hubNamespace
	cfg, err := config.Parse(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.LeaderElect {
		t.Fatal("staging runs without leader election: the Lease permissions would go untested")
	}
	cfg.MetricsAddr, cfg.ProbeAddr, cfg.PprofAddr = "0", "0", "0"
	cfg.MemberProbeInterval = time.Second

	// Every request the manager sends, to the hub and to the member, is
	// watched for a refusal: "everything works" means not one.
	hubCfg := rest.CopyConfig(f.Hub.Config)
	hubCfg.Impersonate = rest.ImpersonationConfig{UserName: hubUser}
	refused := &refusals{}
	managerCfg := rest.CopyConfig(hubCfg)
	managerCfg.Wrap(refused.wrap("hub"))
	mgr, prov, err := hubapp.New(managerCfg, cfg, hubapp.Options{
		SkipControllerNameValidation: true,
		MemberRESTConfig:             func(name string, rc *rest.Config) { rc.Wrap(refused.wrap(name)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	stopManager := runManager(t, ctx, mgr)
	defer stopManager()

	// Leader election through the Lease.
	eventually(t, ctx, func() error {
		lease := &coordinationv1.Lease{}
		if err := f.Hub.Client.Get(ctx, client.ObjectKey{Namespace: hubNamespace, Name: cfg.LeaderElectionID}, lease); err != nil {
			return err
		}
		if ptr.Deref(lease.Spec.HolderIdentity, "") == "" {
			return fmt.Errorf("lease %s has no holder", lease.Name)
		}
		return nil
	})

	// The member is engaged and Ready; the hub annotated its Secret and
	// recorded an Event about it.
	eventually(t, ctx, func() error {
		if !prov.Members()[memberName] {
			return fmt.Errorf("member %s not engaged", memberName)
		}
		s := &corev1.Secret{}
		if err := f.Hub.Client.Get(ctx, client.ObjectKey{Namespace: hubNamespace, Name: memberName}, s); err != nil {
			return err
		}
		if st := s.Annotations[membersecret.AnnotationState]; st != string(membersecret.StateReady) {
			return fmt.Errorf("member state %q (%s: %s)", st, s.Annotations[membersecret.AnnotationReason], s.Annotations[membersecret.AnnotationMessage])
		}
		events := &eventsv1.EventList{}
		if err := f.Hub.Client.List(ctx, events, client.InNamespace(hubNamespace)); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.Regarding.Kind == "Secret" && e.Regarding.Name == memberName {
				return nil
			}
		}
		return errors.New("no Event about the member Secret")
	})

	// A WebApp in the member is reconciled end to end.
	fleettest.Must(t, member.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}))
	app := &v1alpha1.WebApp{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec:       v1alpha1.WebAppSpec{Image: "nginx:1.27", Replicas: ptr.To[int32](2)},
	}
	fleettest.Must(t, member.Client.Create(ctx, app))
	eventually(t, ctx, func() error {
		d := &appsv1.Deployment{}
		if err := member.Client.Get(ctx, client.ObjectKeyFromObject(app), d); err != nil {
			return err
		}
		if d.Labels[v1alpha1.LabelManagedBy] != v1alpha1.ManagedByValue || ptr.Deref(d.Spec.Replicas, 0) != 2 {
			return fmt.Errorf("deployment labels %v replicas %v", d.Labels, d.Spec.Replicas)
		}
		svc := &corev1.Service{}
		if err := member.Client.Get(ctx, client.ObjectKeyFromObject(app), svc); err != nil {
			return err
		}
		got := &v1alpha1.WebApp{}
		if err := member.Client.Get(ctx, client.ObjectKeyFromObject(app), got); err != nil {
			return err
		}
		if got.Status.ObservedGeneration != got.Generation || meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady) == nil {
			return fmt.Errorf("status not written: %+v", got.Status)
		}
		if !slices.Contains(got.Finalizers, v1alpha1.Finalizer) {
			return fmt.Errorf("finalizers %v", got.Finalizers)
		}
		return nil
	})

	// A SimpleDB too: its Secret, claim, Deployment and Service are written
	// under the member role, and it appears in the SimpleDB metrics.
	db := &v1alpha1.SimpleDB{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"}}
	fleettest.Must(t, member.Client.Create(ctx, db))
	eventually(t, ctx, func() error {
		for _, child := range []client.Object{
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db-credentials"}},
			&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "db-data"}},
			&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "db"}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db"}},
		} {
			if err := member.Client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: child.GetName()}, child); err != nil {
				return fmt.Errorf("%T %s: %w", child, child.GetName(), err)
			}
		}
		got := &v1alpha1.SimpleDB{}
		if err := member.Client.Get(ctx, client.ObjectKeyFromObject(db), got); err != nil {
			return err
		}
		if got.Status.ObservedGeneration != got.Generation || meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady) == nil {
			return fmt.Errorf("SimpleDB status not written: %+v", got.Status)
		}
		return nil
	})

	// The metrics the alerts and the dashboard query are the ones the
	// running manager exports (those needing a Prometheus scrape or a DNS
	// provider call aside).
	eventually(t, ctx, func() error { return metricsExported(t) })

	// The prod overlay runs sharded replicas: the same Role covers their
	// peer and fence Leases. The leader stops first, releasing its Lease,
	// as in the rollout from one replica to several.
	stopManager()
	prodEnv := maps.Clone(built{dir: "overlays/prod", objs: build(t, "overlays/prod")}.configMap(t).Data)
	prodEnv["POD_NAMESPACE"], prodEnv["POD_NAME"] = hubNamespace, "fleethub-manager-0"
	prodCfg, err := config.Parse(nil, func(k string) string { return prodEnv[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !prodCfg.Sharding.Enabled {
		t.Fatal("prod runs unsharded: the shard Lease permissions would go untested")
	}
	prodCfg.MetricsAddr, prodCfg.ProbeAddr, prodCfg.PprofAddr = "0", "0", "0"
	prodCfg.MemberProbeInterval = time.Second
	sharded, sprov, err := hubapp.New(managerCfg, prodCfg, hubapp.Options{
		SkipControllerNameValidation: true,
		MemberRESTConfig:             func(name string, rc *rest.Config) { rc.Wrap(refused.wrap(name)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer runManager(t, ctx, sharded)()
	eventually(t, ctx, func() error {
		lease := &coordinationv1.Lease{}
		if err := f.Hub.Client.Get(ctx, client.ObjectKey{Namespace: hubNamespace, Name: "fleethub-shard-" + memberName}, lease); err != nil {
			return err
		}
		if h := ptr.Deref(lease.Spec.HolderIdentity, ""); h != "fleethub-manager-0" {
			return fmt.Errorf("fence of %s held by %q", memberName, h)
		}
		if !sprov.Members()[memberName] {
			return fmt.Errorf("member %s not engaged by the sharded replica", memberName)
		}
		return nil
	})
	app2 := &v1alpha1.WebApp{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web2"},
		Spec:       v1alpha1.WebAppSpec{Image: "nginx:1.27"},
	}
	fleettest.Must(t, member.Client.Create(ctx, app2))
	eventually(t, ctx, func() error {
		return member.Client.Get(ctx, client.ObjectKeyFromObject(app2), &appsv1.Deployment{})
	})

	// Not one request of the manager was refused.
	if r := refused.take(); len(r) > 0 {
		t.Errorf("the shipped RBAC refused %d request(s) of the manager:\n%s", len(r), strings.Join(r, "\n"))
	}

	// The hub identity is refused everything outside its namespace, and
	// inside it anything but what the Role grants.
	hc, err := client.New(hubCfg, client.Options{Scheme: hubapp.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Must(t, client.IgnoreAlreadyExists(f.Hub.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "elsewhere"}, StringData: map[string]string{"k": "v"},
	})))
	if err := hc.Get(ctx, client.ObjectKey{Namespace: hubNamespace, Name: memberName}, &corev1.Secret{}); err != nil {
		t.Errorf("the hub identity cannot read its member Secret: %v", err)
	}
	// DNS claims and the DNS policy are ConfigMaps in the hub namespace.
	if err := hc.List(ctx, &corev1.ConfigMapList{}, client.InNamespace(hubNamespace)); err != nil {
		t.Errorf("the hub identity cannot read the DNS claims and policy: %v", err)
	}
	for what, err := range map[string]error{
		"get a Secret in default":           hc.Get(ctx, client.ObjectKey{Namespace: "default", Name: "elsewhere"}, &corev1.Secret{}),
		"list Secrets in all namespaces":    hc.List(ctx, &corev1.SecretList{}),
		"list Secrets in kube-system":       hc.List(ctx, &corev1.SecretList{}, client.InNamespace("kube-system")),
		"create a Secret in its namespace":  hc.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: hubNamespace, Name: "new"}}, client.DryRunAll),
		"delete its member Secret":          hc.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: hubNamespace, Name: memberName}}, client.DryRunAll),
		"read ConfigMaps in kube-system":    hc.List(ctx, &corev1.ConfigMapList{}, client.InNamespace("kube-system")),
		"list namespaces":                   hc.List(ctx, &corev1.NamespaceList{}),
		"create a ClusterRoleBinding":       hc.Create(ctx, clusterAdminBinding(), client.DryRunAll),
		"list CRDs (the hub serves none)":   hc.List(ctx, &apiextensionsv1.CustomResourceDefinitionList{}),
		"read a Lease in another namespace": hc.List(ctx, &coordinationv1.LeaseList{}, client.InNamespace("kube-system")),
	} {
		if !apierrors.IsForbidden(err) {
			t.Errorf("hub identity may %s: err = %v, want Forbidden", what, err)
		}
	}

	// The hub's member identity cannot escalate or wander in the member.
	mcfg := rest.AnonymousClientConfig(member.Config)
	mcfg.BearerToken = tr.Status.Token
	mc, err := client.New(mcfg, client.Options{Scheme: hubapp.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.List(ctx, &v1alpha1.WebAppList{}); err != nil {
		t.Errorf("member identity cannot list WebApps: %v", err)
	}
	for what, err := range map[string]error{
		"create a ClusterRoleBinding": mc.Create(ctx, clusterAdminBinding(), client.DryRunAll),
		"list nodes":                  mc.List(ctx, &corev1.NodeList{}),
		"create a ServiceAccount":     mc.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "x"}}, client.DryRunAll),
		"delete a namespace":          mc.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, client.DryRunAll),
		"list CRDs":                   mc.List(ctx, &apiextensionsv1.CustomResourceDefinitionList{}),
	} {
		if !apierrors.IsForbidden(err) {
			t.Errorf("member identity may %s: err = %v, want Forbidden", what, err)
		}
	}
}

// runManager starts mgr and returns the function that stops it (once) and
// waits for it.
func runManager(t *testing.T, ctx context.Context, mgr interface{ Start(context.Context) error }) func() {
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	var once sync.Once
	return func() {
		once.Do(func() {
			stop()
			select {
			case err := <-done:
				if err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("manager: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("manager did not stop")
			}
		})
	}
}

// refusals records the requests an apiserver answered with 403 Forbidden or
// 401 Unauthorized.
type refusals struct {
	mu   sync.Mutex
	seen []string
}

func (r *refusals) wrap(cluster string) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(req)
			if err == nil && (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized) {
				r.mu.Lock()
				r.seen = append(r.seen, fmt.Sprintf("%s: %d %s %s", cluster, resp.StatusCode, req.Method, req.URL.Path))
				r.mu.Unlock()
			}
			return resp, err
		})
	}
}

func (r *refusals) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.seen
	r.seen = nil
	return out
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// metricsExported checks that every metric referenced by the PrometheusRule
// and the dashboard is in the manager's registry, with the labels queried.
func metricsExported(t *testing.T) error {
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		return err
	}
	exported := map[string][]string{}
	for _, mf := range families {
		var labels []string
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if !slices.Contains(labels, l.GetName()) {
					labels = append(labels, l.GetName())
				}
			}
		}
		exported[mf.GetName()] = labels
	}
	notHere := map[string]string{
		"up":                                   "written by Prometheus",
		"domainmanager_api_calls_total":        "needs a call to a DNS provider",
		"domainmanager_api_rate_limited_total": "needs a 429 from a DNS provider",
	}
	mon := buildSet(t, "monitoring")
	var exprs []string
	for _, r := range prometheusRules(t, mon) {
		exprs = append(exprs, r.Expr)
	}
	exprs = append(exprs, dashboardExprs(t, mon)...)
	var missing []string
	for _, expr := range exprs {
		for _, name := range metricNames(expr) {
			base := name
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				if b, ok := strings.CutSuffix(name, suffix); ok && exported[b] != nil {
					base = b
				}
			}
			if strings.Contains(name, ":") || notHere[name] != "" {
				continue // recording rule, or not exported by the manager
			}
			if _, ok := exported[base]; !ok && !slices.Contains(missing, name) {
				missing = append(missing, name)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("metrics queried but not exported by the running manager: %v", missing)
	}
	if l := exported["fleethub_member_cluster_ready"]; !slices.Contains(l, "cluster") {
		return fmt.Errorf("fleethub_member_cluster_ready labels %v", l)
	}
	return nil
}

func dashboardExprs(t *testing.T, b built) []string {
	t.Helper()
	cm := &corev1.ConfigMap{}
	b.one(t, "ConfigMap", "fleethub-dashboard", cm)
	var out []string
	for _, v := range cm.Data {
		for _, line := range strings.Split(v, "\n") {
			if s, ok := strings.CutPrefix(strings.TrimSpace(line), `"expr": `); ok {
				out = append(out, strings.Trim(strings.TrimSuffix(s, ","), `"`))
			}
		}
	}
	return out
}

func clusterAdminBinding() *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "escalate"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "x", Namespace: "default"}},
	}
}

// applyAll server-side applies objs for real, namespaces and CRDs first.
func applyAll(t *testing.T, ctx context.Context, c client.Client, objs []*unstructured.Unstructured) {
	t.Helper()
	first := func(o *unstructured.Unstructured) int {
		switch o.GetKind() {
		case "Namespace":
			return 0
		case "CustomResourceDefinition":
			return 1
		}
		return 2
	}
	sorted := slices.Clone(objs)
	slices.SortStableFunc(sorted, func(a, b *unstructured.Unstructured) int { return first(a) - first(b) })
	for _, o := range sorted {
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
			t.Fatalf("applying %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
}

func waitCRDsEstablished(t *testing.T, ctx context.Context, c client.Client) {
	t.Helper()
	eventually(t, ctx, func() error {
		list := &apiextensionsv1.CustomResourceDefinitionList{}
		if err := c.List(ctx, list); err != nil {
			return err
		}
		for _, crd := range list.Items {
			established := false
			for _, cond := range crd.Status.Conditions {
				established = established || (cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue)
			}
			if !established {
				return fmt.Errorf("CRD %s not established", crd.Name)
			}
		}
		if len(list.Items) == 0 {
			return errors.New("no CRDs")
		}
		return nil
	})
}

// namespacesOf lists the namespaces objs live in or create.
func namespacesOf(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		ns := o.GetNamespace()
		if o.GetKind() == "Namespace" {
			ns = o.GetName()
		}
		if ns != "" && !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	return out
}

// ensureNamespace applies the Namespace object of objs named ns, or creates
// a bare one when objs has none.
func ensureNamespace(ctx context.Context, c client.Client, ns string, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		if o.GetKind() == "Namespace" && o.GetName() == ns {
			return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), client.FieldOwner(fieldOwner), client.ForceOwnership)
		}
	}
	return client.IgnoreAlreadyExists(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
}

func eventually(t *testing.T, ctx context.Context, check func() error) {
	t.Helper()
	if err := fleettest.Eventually(ctx, wait, check); err != nil {
		t.Fatal(err)
	}
}
