package registration_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/cmd/manager/app"
	"github.com/fleethub/fleethub/cmd/manager/app/fleettest"
	"github.com/fleethub/fleethub/deploy"
	"github.com/fleethub/fleethub/pkg/membersecret"
	"github.com/fleethub/fleethub/pkg/registration"
)

// The fleet: a hub from fleettest, and a member "m1" started here without
// the fleethub CRDs, so that --install-crds has something to do. Both are
// reachable through one kubeconfig file, as on an admin's machine: contexts
// "hub", "m1" (CA read from a file) and "m1-nobody" (a user without rights).
var (
	fleet          *fleettest.Fleet
	memberEnv      *envtest.Environment
	memberCfg      *rest.Config
	memberC        client.Client
	kubeconfigPath string
	tmpDir         string
	setupOnce      sync.Once
	setupErr       error
)

const m1 = "m1"

func TestMain(m *testing.M) {
	code := m.Run()
	if tmpDir != "" {
		_ = os.RemoveAll(tmpDir)
	}
	if memberEnv != nil {
		_ = memberEnv.Stop()
	}
	if fleet != nil {
		fleet.Stop()
	}
	os.Exit(code)
}

func setup(t *testing.T) {
	t.Helper()
	setupOnce.Do(func() {
		if tmpDir, setupErr = os.MkdirTemp("", "kubectl-fleethub-test"); setupErr == nil {
			setupErr = startFleet(tmpDir)
		}
	})
	if setupErr != nil {
		t.Fatalf("starting the test clusters: %v", setupErr)
	}
}

func startFleet(dir string) error {
	fleettest.SetupLogging()
	assets, err := fleettest.BinaryAssets()
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	var fleetErr, memberErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		fleet, fleetErr = fleettest.Start() // the hub only
	}()
	memberEnv = &envtest.Environment{BinaryAssetsDirectory: assets}
	memberCfg, memberErr = memberEnv.Start()
	wg.Wait()
	if fleetErr != nil {
		return fleetErr
	}
	if memberErr != nil {
		return memberErr
	}
	if memberC, err = client.New(memberCfg, client.Options{Scheme: testScheme()}); err != nil {
		return err
	}
	nobody, err := memberEnv.AddUser(envtest.User{Name: "nobody"}, nil)
	if err != nil {
		return err
	}

	caFile := filepath.Join(dir, "m1-ca.crt")
	if err := os.WriteFile(caFile, memberCfg.CAData, 0o600); err != nil {
		return err
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["hub"] = &clientcmdapi.Cluster{Server: fleet.Hub.Config.Host, CertificateAuthorityData: fleet.Hub.Config.CAData}
	kc.Clusters[m1] = &clientcmdapi.Cluster{Server: memberCfg.Host, CertificateAuthority: caFile}
	kc.AuthInfos["hub-admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: fleet.Hub.Config.CertData, ClientKeyData: fleet.Hub.Config.KeyData}
	kc.AuthInfos["m1-admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: memberCfg.CertData, ClientKeyData: memberCfg.KeyData}
	nc := nobody.Config()
	kc.AuthInfos["m1-nobody"] = &clientcmdapi.AuthInfo{ClientCertificateData: nc.CertData, ClientKeyData: nc.KeyData}
	kc.Contexts["hub"] = &clientcmdapi.Context{Cluster: "hub", AuthInfo: "hub-admin"}
	kc.Contexts[m1] = &clientcmdapi.Context{Cluster: m1, AuthInfo: "m1-admin"}
	kc.Contexts["m1-nobody"] = &clientcmdapi.Context{Cluster: m1, AuthInfo: "m1-nobody"}
	kc.CurrentContext = "hub"
	kubeconfigPath = filepath.Join(dir, "config")
	return clientcmd.WriteToFile(*kc, kubeconfigPath)
}

func load(t *testing.T, context string) *rest.Config {
	t.Helper()
	cfg, _, err := registration.LoadConfig(kubeconfigPath, context)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func registerOptions(t *testing.T) registration.RegisterOptions {
	return registration.RegisterOptions{
		Name: m1, Member: load(t, m1), MemberContext: m1, Hub: load(t, ""), HubContext: "hub",
		InstallCRDs: true, TokenDuration: time.Hour, Out: &testWriter{t: t},
	}
}

// TestRegisterLifecycle walks one member through register, use by the real
// hub, token rotation, list and unregister.
func TestRegisterLifecycle(t *testing.T) {
	setup(t)
	ctx := t.Context()
	var reg *registration.Registration

	t.Run("register", func(t *testing.T) {
		start := time.Now()
		out := &bytes.Buffer{}
		o := registerOptions(t)
		o.Out = out
		var err error
		if reg, err = registration.Register(ctx, o); err != nil {
			t.Fatal(err)
		}
		t.Logf("register took %s:\n%s", time.Since(start).Round(time.Millisecond), out)
		for _, line := range []string{
			"namespace/fleethub-system", "serviceaccount/fleethub-hub", "clusterrole/fleethub-member",
			"clusterrolebinding/fleethub-member", "customresourcedefinition/webapps.app.54b3r.io",
			"token for serviceaccount/fleethub-hub", "secret/m1",
		} {
			if !strings.Contains(out.String(), line) {
				t.Errorf("output does not mention %s", line)
			}
		}
		if reg.Secret != "created" || strings.Contains(out.String(), "unchanged") {
			t.Errorf("first registration: secret %s, output:\n%s", reg.Secret, out)
		}

		// The Secret: labelled, holding a kubeconfig whose user is a token.
		secret := &corev1.Secret{}
		fleettest.Must(t, fleet.Hub.Client.Get(ctx, client.ObjectKey{Namespace: fleettest.HubNamespace, Name: m1}, secret))
		if secret.Labels[membersecret.Label] != "true" {
			t.Errorf("secret labels: %v", secret.Labels)
		}
		if !bytes.Equal(secret.Data[membersecret.Key], reg.Kubeconfig) {
			t.Error("secret does not hold the kubeconfig Register returned")
		}
		if got := secret.Annotations[registration.AnnotationTokenExpiration]; got != reg.TokenExpiration.Format(time.RFC3339) {
			t.Errorf("token expiration annotation %q, want %s", got, reg.TokenExpiration)
		}
		kc, err := clientcmd.Load(reg.Kubeconfig)
		fleettest.Must(t, err)
		ctxt := kc.Contexts[kc.CurrentContext]
		cluster, user := kc.Clusters[ctxt.Cluster], kc.AuthInfos[ctxt.AuthInfo]
		if cluster.Server != memberCfg.Host || !bytes.Equal(cluster.CertificateAuthorityData, memberCfg.CAData) || cluster.CertificateAuthority != "" {
			t.Errorf("cluster %+v: want server %s with the CA (read from the file) inline", cluster, memberCfg.Host)
		}
		if user.Token == "" || len(user.ClientCertificateData) > 0 || user.Exec != nil {
			t.Errorf("user is not a token: %+v", user)
		}
		claims := jwtClaims(t, user.Token)
		if claims.Sub != "system:serviceaccount:fleethub-system:fleethub-hub" {
			t.Errorf("token subject %q", claims.Sub)
		}
		if life := time.Until(time.Unix(claims.Exp, 0)); life < 59*time.Minute || life > 61*time.Minute {
			t.Errorf("token lifetime %s, want the requested 1h", life)
		}

		// The apiserver authenticates the token as the ServiceAccount.
		sa := saClient(t, reg.Kubeconfig)
		review := &authenticationv1.SelfSubjectReview{}
		fleettest.Must(t, sa.Create(ctx, review))
		if u := review.Status.UserInfo; u.Username != "system:serviceaccount:fleethub-system:fleethub-hub" {
			t.Errorf("authenticated as %+v", u)
		}

		// --install-crds: every bundled CRD is served.
		crds, err := deploy.CRDs()
		fleettest.Must(t, err)
		for _, want := range crds {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			fleettest.Must(t, memberC.Get(ctx, client.ObjectKey{Name: want.Name}, crd))
			if !established(crd) {
				t.Errorf("%s not established", crd.Name)
			}
		}
	})
	if reg == nil {
		t.FailNow()
	}

	t.Run("the token has exactly the member role's permissions", func(t *testing.T) {
		role, err := deploy.MemberClusterRole()
		fleettest.Must(t, err)
		sa := saClient(t, reg.Kubeconfig)
		check := func(a authorizationv1.ResourceAttributes, want bool) {
			t.Helper()
			r := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &a}}
			fleettest.Must(t, sa.Create(ctx, r))
			if r.Status.Allowed != want {
				t.Errorf("%s %s/%s/%s %q in %q: allowed=%v, want %v", a.Verb, a.Group, a.Resource, a.Subresource, a.Name, a.Namespace, r.Status.Allowed, want)
			}
		}
		n := 0
		for _, rule := range role.Rules {
			for _, g := range rule.APIGroups {
				for _, res := range rule.Resources {
					resource, sub, _ := strings.Cut(res, "/")
					for _, v := range rule.Verbs {
						if len(rule.ResourceNames) > 0 {
							// Only those objects, wherever they are.
							for _, name := range rule.ResourceNames {
								check(authorizationv1.ResourceAttributes{Group: g, Resource: resource, Subresource: sub, Verb: v, Name: name}, true)
								check(authorizationv1.ResourceAttributes{Group: g, Resource: resource, Subresource: sub, Verb: v, Name: name + "-other"}, false)
								n++
							}
							continue
						}
						check(authorizationv1.ResourceAttributes{Group: g, Resource: resource, Subresource: sub, Verb: v, Namespace: "team-a"}, true)
						n++
					}
				}
			}
		}
		// Things the hub never gets, and things it gets only if the role says so.
		for _, a := range []authorizationv1.ResourceAttributes{
			{Resource: "nodes", Verb: "list"},
			{Group: "rbac.authorization.k8s.io", Resource: "clusterroles", Verb: "create"},
			{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings", Verb: "create"},
			{Resource: "pods", Subresource: "exec", Verb: "create", Namespace: "team-a"},
			{Resource: "serviceaccounts", Subresource: "token", Verb: "create", Namespace: "fleethub-system"},
			{Resource: "namespaces", Verb: "delete"},
			{Resource: "namespaces", Verb: "list"},
			{Resource: "namespaces", Verb: "get", Name: "default"},
			{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions", Verb: "create"},
		} {
			check(a, false)
		}
		for _, a := range []authorizationv1.ResourceAttributes{
			{Resource: "secrets", Verb: "get", Namespace: "kube-system"},
			{Resource: "configmaps", Verb: "list", Namespace: "kube-system"},
			{Group: "apps", Resource: "daemonsets", Verb: "create", Namespace: "team-a"},
		} {
			check(a, grants(role.Rules, a))
		}
		t.Logf("%d allowed actions checked", n)

		// And with real calls: what the hub does works, the rest is refused.
		fleettest.Must(t, memberC.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "rbac-probe"}}))
		fleettest.Must(t, sa.List(ctx, &v1alpha1.WebAppList{}))
		dep := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: "rbac-probe"},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "probe"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "probe"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1.27"}}},
				},
			},
		}
		fleettest.Must(t, sa.Create(ctx, dep))
		if err := sa.List(ctx, &corev1.NodeList{}); !apierrors.IsForbidden(err) {
			t.Errorf("listing nodes: %v, want Forbidden", err)
		}
		if err := sa.List(ctx, &corev1.SecretList{}, client.InNamespace("kube-system")); !grants(role.Rules, authorizationv1.ResourceAttributes{Resource: "secrets", Verb: "list"}) && !apierrors.IsForbidden(err) {
			t.Errorf("listing Secrets in kube-system: %v, want Forbidden", err)
		}
	})

	mgr, err := fleet.StartManager(fleettest.TestConfig())
	fleettest.Must(t, err)
	defer func() {
		if err := mgr.Stop(); err != nil {
			t.Error(err)
		}
	}()

	t.Run("the hub engages the member and reconciles there", func(t *testing.T) {
		start := time.Now()
		fleettest.Must(t, mgr.WaitEngaged(ctx, m1))
		webAppGetsDeployment(t, "shop")
		t.Logf("engaged and reconciled in %s", time.Since(start).Round(time.Millisecond))
	})

	t.Run("re-running register rotates the token idempotently", func(t *testing.T) {
		engagedBefore, err := mgr.Provider.Get(ctx, m1)
		fleettest.Must(t, err)
		before := &corev1.Secret{}
		fleettest.Must(t, fleet.Hub.Client.Get(ctx, client.ObjectKey{Namespace: fleettest.HubNamespace, Name: m1}, before))
		out := &bytes.Buffer{}
		o := registerOptions(t)
		o.Out = out
		again, err := registration.Register(ctx, o)
		fleettest.Must(t, err)
		t.Logf("second run:\n%s", out)
		if again.Secret != "updated" {
			t.Errorf("secret %s, want updated", again.Secret)
		}
		if token(t, again.Kubeconfig) == token(t, reg.Kubeconfig) {
			t.Error("the token was not rotated")
		}
		after := &corev1.Secret{}
		fleettest.Must(t, fleet.Hub.Client.Get(ctx, client.ObjectKey{Namespace: fleettest.HubNamespace, Name: m1}, after))
		if after.UID != before.UID || after.ResourceVersion == before.ResourceVersion || !bytes.Equal(after.Data[membersecret.Key], again.Kubeconfig) {
			t.Error("the Secret was not updated in place with the new kubeconfig")
		}
		// The member objects were already right: nothing changed, nothing doubled.
		for _, what := range []string{"namespace/", "serviceaccount/", "clusterrole/", "clusterrolebinding/", "customresourcedefinition/"} {
			for _, line := range strings.Split(out.String(), "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "member: "+what) && !strings.Contains(line, "unchanged") {
					t.Errorf("second run changed something: %s", line)
				}
			}
		}
		sas := &corev1.ServiceAccountList{}
		fleettest.Must(t, memberC.List(ctx, sas, client.MatchingLabels(registration.Labels)))
		crbs := &rbacv1.ClusterRoleBindingList{}
		fleettest.Must(t, memberC.List(ctx, crbs, client.MatchingLabels(registration.Labels)))
		crs := &rbacv1.ClusterRoleList{}
		fleettest.Must(t, memberC.List(ctx, crs, client.MatchingLabels(registration.Labels)))
		secrets := &corev1.SecretList{}
		fleettest.Must(t, fleet.Hub.Client.List(ctx, secrets, client.InNamespace(fleettest.HubNamespace)))
		if len(sas.Items) != 1 || len(crbs.Items) != 1 || len(crs.Items) != 1 || len(secrets.Items) != 1 {
			t.Errorf("objects after two runs: %d ServiceAccounts, %d ClusterRoleBindings, %d ClusterRoles, %d hub Secrets; want 1 each",
				len(sas.Items), len(crbs.Items), len(crs.Items), len(secrets.Items))
		}
		// The hub reconnects with the new token: a new engagement whose
		// client carries it (the old engagement would still answer, since a
		// rotated-away token stays valid, so waiting for "engaged" proves nothing).
		newToken := token(t, again.Kubeconfig)
		fleettest.Must(t, fleettest.Eventually(ctx, 30*time.Second, func() error {
			cl, err := mgr.Provider.Get(ctx, m1)
			if err != nil {
				return err
			}
			if cl == engagedBefore {
				return fmt.Errorf("the hub still uses the engagement made with the old token")
			}
			if got := cl.GetConfig().BearerToken; got != newToken {
				return fmt.Errorf("the engaged member's client does not carry the new token")
			}
			return nil
		}))
		webAppGetsDeployment(t, "shop-after-rotation")
		reg = again
	})

	t.Run("register refuses the same cluster under another name", func(t *testing.T) {
		// The hub records the member's identity once it has engaged it.
		fleettest.Must(t, fleettest.Eventually(ctx, 30*time.Second, func() error {
			s := &corev1.Secret{}
			if err := fleet.Hub.Client.Get(ctx, client.ObjectKey{Namespace: fleettest.HubNamespace, Name: m1}, s); err != nil {
				return err
			}
			if s.Annotations[membersecret.AnnotationClusterIdentity] == "" {
				return fmt.Errorf("no identity recorded on secret %s", m1)
			}
			return nil
		}))
		o := registerOptions(t)
		o.Name = "m1-again"
		_, err := registration.Register(ctx, o)
		if err == nil || !strings.Contains(err.Error(), `already registered on the hub as member "`+m1+`"`) {
			t.Fatalf("registering %s a second time as m1-again: %v, want a refusal naming %s", m1, err, m1)
		}
		err = fleet.Hub.Client.Get(ctx, client.ObjectKey{Namespace: fleettest.HubNamespace, Name: "m1-again"}, &corev1.Secret{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("secret m1-again: %v, want NotFound", err)
		}
	})

	t.Run("list shows the state the hub reports", func(t *testing.T) {
		var members []registration.Member
		// The hub probes the member with the CLI-made identity and reports
		// it Ready with every kind engaged: the member role is sufficient.
		fleettest.Must(t, fleettest.Eventually(ctx, 30*time.Second, func() error {
			var err error
			if members, err = registration.List(ctx, load(t, "hub"), "hub", fleettest.HubNamespace); err != nil {
				return err
			}
			if len(members) != 1 || members[0].State != string(membersecret.StateReady) {
				return fmt.Errorf("members: %+v", members)
			}
			return nil
		}))
		m := members[0]
		if m.Name != m1 || m.TokenExpiration != reg.TokenExpiration.Format(time.RFC3339) || !slices.Contains(m.Kinds, "WebApp") || m.LastTransition == "" {
			t.Errorf("member: %+v", m)
		}
		var b bytes.Buffer
		fleettest.Must(t, registration.WriteTable(&b, members, false))
		t.Logf("list:\n%s", b.String())
		if fields := strings.Fields(strings.Split(b.String(), "\n")[1]); len(fields) != 5 || fields[0] != m1 || fields[1] != "Ready" {
			t.Errorf("table:\n%s", b.String())
		}
	})

	t.Run("unregister", func(t *testing.T) {
		out := &bytes.Buffer{}
		o := registration.UnregisterOptions{Name: m1, Hub: load(t, "hub"), Member: load(t, m1), MemberContext: m1, Out: out}
		fleettest.Must(t, registration.Unregister(ctx, o))
		t.Logf("unregister:\n%s", out)
		if err := fleet.Hub.Client.Get(ctx, client.ObjectKey{Namespace: fleettest.HubNamespace, Name: m1}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
			t.Errorf("hub Secret: %v, want NotFound", err)
		}
		for _, obj := range []client.Object{
			&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: registration.ClusterRoleBindingName}},
			&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: deploy.MemberClusterRoleName}},
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: registration.ServiceAccountName, Namespace: "fleethub-system"}},
		} {
			if err := memberC.Get(ctx, client.ObjectKeyFromObject(obj), obj); !apierrors.IsNotFound(err) {
				t.Errorf("%T %s: %v, want NotFound", obj, obj.GetName(), err)
			}
		}
		// Left alone: the namespace, the CRDs, the user's objects and their children.
		for _, obj := range []client.Object{
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fleethub-system"}},
			&apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: "webapps.app.54b3r.io"}},
			&v1alpha1.WebApp{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "team-a"}},
			&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "team-a"}},
		} {
			if err := memberC.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
				t.Errorf("%T %s: %v", obj, obj.GetName(), err)
			}
		}
		// The hub lets go of the member, and the issued token is dead with its ServiceAccount.
		start := time.Now()
		fleettest.Must(t, fleettest.Eventually(ctx, 30*time.Second, func() error {
			if mgr.Provider.Members()[m1] {
				return fmt.Errorf("m1 still engaged")
			}
			return nil
		}))
		t.Logf("disengaged after %s", time.Since(start).Round(time.Millisecond))
		fleettest.Must(t, fleettest.Eventually(ctx, 10*time.Second, func() error {
			if err := saClient(t, reg.Kubeconfig).List(ctx, &v1alpha1.WebAppList{}); !apierrors.IsUnauthorized(err) {
				return fmt.Errorf("old token after unregister: %w, want Unauthorized", err)
			}
			return nil
		}))
		t.Logf("token refused after %s", time.Since(start).Round(time.Millisecond))
		// Again: nothing left to do, no error.
		out.Reset()
		fleettest.Must(t, registration.Unregister(ctx, o))
		if strings.Count(out.String(), "not found") != 4 {
			t.Errorf("second unregister:\n%s", out)
		}
	})
}

func TestErrors(t *testing.T) {
	setup(t)
	ctx := t.Context()
	expect := func(t *testing.T, err error, wants ...string) {
		t.Helper()
		if err == nil {
			t.Fatalf("no error, want one mentioning %q", wants)
		}
		t.Logf("error: %v", err)
		for _, w := range wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %q", err, w)
			}
		}
	}

	t.Run("context not found", func(t *testing.T) {
		_, _, err := registration.LoadConfig(kubeconfigPath, "m2")
		expect(t, err, `context "m2" not found`, "hub, m1, m1-nobody")
	})
	t.Run("member unreachable", func(t *testing.T) {
		o := registerOptions(t)
		o.Name = "gone"
		o.Member = rest.CopyConfig(o.Member)
		o.Member.Host = "https://127.0.0.1:1"
		_, err := registration.Register(ctx, o)
		expect(t, err, "cannot reach the member cluster", "127.0.0.1:1")
	})
	t.Run("no permission in the member", func(t *testing.T) {
		o := registerOptions(t)
		o.Name = "nobody"
		o.Member, o.MemberContext = load(t, "m1-nobody"), "m1-nobody"
		_, err := registration.Register(ctx, o)
		expect(t, err, "permission denied", "member cluster (context m1-nobody", "cluster-admin")
	})
	t.Run("hub namespace missing", func(t *testing.T) {
		o := registerOptions(t)
		o.Name = "elsewhere"
		o.HubNamespace = "not-there"
		_, err := registration.Register(ctx, o)
		expect(t, err, `namespace "not-there" not found`, "--hub-namespace")
	})
	// None of the failures above wrote anything on the hub.
	secrets := &corev1.SecretList{}
	fleettest.Must(t, fleet.Hub.Client.List(ctx, secrets, client.InNamespace(fleettest.HubNamespace)))
	for _, s := range secrets.Items {
		if slices.Contains([]string{"gone", "nobody", "elsewhere"}, s.Name) {
			t.Errorf("failed registration left Secret %s", s.Name)
		}
	}
	t.Run("unregister with the member unreachable deletes nothing", func(t *testing.T) {
		fleettest.Must(t, fleet.PutSecret(ctx, "gone", map[string][]byte{membersecret.Key: []byte("x")}))
		member := load(t, m1)
		member.Host = "https://127.0.0.1:1"
		err := registration.Unregister(ctx, registration.UnregisterOptions{Name: "gone", Hub: load(t, "hub"), Member: member})
		expect(t, err, "cannot reach the member cluster", "nothing was deleted", "--hub-only")
		fleettest.Must(t, fleet.Hub.Client.Get(ctx, client.ObjectKey{Namespace: fleettest.HubNamespace, Name: "gone"}, &corev1.Secret{}))
		// --hub-only: the Secret goes, the member is not contacted.
		fleettest.Must(t, registration.Unregister(ctx, registration.UnregisterOptions{Name: "gone", Hub: load(t, "hub")}))
		if err := fleet.Hub.Client.Get(ctx, client.ObjectKey{Namespace: fleettest.HubNamespace, Name: "gone"}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
			t.Errorf("hub-only unregister left the Secret: %v", err)
		}
	})
	t.Run("unregister refuses a Secret that is not a member", func(t *testing.T) {
		plain := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: fleettest.HubNamespace}}
		fleettest.Must(t, fleet.Hub.Client.Create(ctx, plain))
		err := registration.Unregister(ctx, registration.UnregisterOptions{Name: "plain", Hub: load(t, "hub")})
		expect(t, err, "not a member kubeconfig Secret", "not deleting")
		fleettest.Must(t, fleet.Hub.Client.Get(ctx, client.ObjectKeyFromObject(plain), plain))
	})
}

// webAppGetsDeployment creates a WebApp in m1 and waits for the hub to give it a Deployment.
func webAppGetsDeployment(t *testing.T, name string) {
	t.Helper()
	ctx := t.Context()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}
	if err := memberC.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	app := &v1alpha1.WebApp{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a"},
		Spec:       v1alpha1.WebAppSpec{Image: "nginx:1.27", Port: 8080},
	}
	fleettest.Must(t, memberC.Create(ctx, app))
	fleettest.Must(t, fleettest.Eventually(ctx, 30*time.Second, func() error {
		return memberC.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: name}, &appsv1.Deployment{})
	}))
}

func saClient(t *testing.T, kc []byte) client.Client {
	t.Helper()
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kc)
	fleettest.Must(t, err)
	cfg.QPS, cfg.Burst = 100, 200
	c, err := client.New(cfg, client.Options{Scheme: testScheme()})
	fleettest.Must(t, err)
	return c
}

func testScheme() *runtime.Scheme {
	s := app.Scheme()
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

func token(t *testing.T, kc []byte) string {
	t.Helper()
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kc)
	fleettest.Must(t, err)
	return cfg.BearerToken
}

type claims struct {
	Sub string `json:"sub"`
	Exp int64  `json:"exp"`
}

func jwtClaims(t *testing.T, token string) claims {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token is not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	fleettest.Must(t, err)
	var c claims
	fleettest.Must(t, json.Unmarshal(raw, &c))
	return c
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// grants reports whether RBAC rules allow an action (no wildcards: the
// generated role has none, deploy's tests make sure).
func grants(rules []rbacv1.PolicyRule, a authorizationv1.ResourceAttributes) bool {
	res := a.Resource
	if a.Subresource != "" {
		res += "/" + a.Subresource
	}
	for _, r := range rules {
		if slices.Contains(r.APIGroups, a.Group) && slices.Contains(r.Resources, res) && slices.Contains(r.Verbs, a.Verb) {
			return true
		}
	}
	return false
}

// testWriter sends Register's progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
