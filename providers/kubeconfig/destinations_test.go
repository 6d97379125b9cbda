package kubeconfig_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/fleethub/fleethub/cmd/manager/app/fleettest"
	"github.com/fleethub/fleethub/deploy"
	"github.com/fleethub/fleethub/pkg/membersecret"
	"github.com/fleethub/fleethub/providers/kubeconfig"
)

// edit rewrites the one cluster and user of a kubeconfig.
func edit(t *testing.T, raw []byte, f func(server *string, user map[string]any)) []byte {
	t.Helper()
	kc, err := clientcmd.Load(raw)
	fleettest.Must(t, err)
	for _, c := range kc.Clusters {
		for _, u := range kc.AuthInfos {
			extra := map[string]any{}
			f(&c.Server, extra)
			if v, ok := extra["proxy"].(string); ok {
				c.ProxyURL = v
			}
			if v, ok := extra["as"].(string); ok {
				u.Impersonate = v
			}
			if v, ok := extra["as-groups"].([]string); ok {
				u.ImpersonateGroups = v
			}
			if v, ok := extra["username"].(string); ok {
				u.Token, u.ClientCertificateData, u.ClientKeyData = "", nil, nil
				u.Username, u.Password = v, "pw"
			}
			if _, ok := extra["anonymous"]; ok {
				u.Token, u.ClientCertificateData, u.ClientKeyData = "", nil, nil
			}
		}
	}
	out, err := clientcmd.Write(*kc)
	fleettest.Must(t, err)
	return out
}

var destinationCases = map[string]struct {
	change func(server *string, user map[string]any)
	reason string
}{
	"proxy": {func(_ *string, u map[string]any) { u["proxy"] = "http://127.0.0.1:9" }, kubeconfig.ReasonProxyRefused},
	"impersonation": {func(_ *string, u map[string]any) {
		u["as"] = "fleethub-other"
		u["as-groups"] = []string{"system:masters"}
	}, kubeconfig.ReasonImpersonationRefused},
	"basic-auth": {func(_ *string, u map[string]any) { u["username"] = "admin" }, kubeconfig.ReasonBasicAuthRefused},
	"anonymous":  {func(_ *string, u map[string]any) { u["anonymous"] = true }, kubeconfig.ReasonNoCredentials},
	// Never dialled: refused when the Secret is parsed.
	"link-local": {func(s *string, _ map[string]any) { *s = "https://169.254.169.254:6443" }, kubeconfig.ReasonLinkLocalRefused},
}

// Each risky destination class is Rejected with its reason, before any
// request; the other members are unaffected.
func TestRiskyDestinationsAreRejected(t *testing.T) {
	setup(t)
	ctx := context.Background()
	before := fleet.Requests.Snapshot()
	for name, tc := range destinationCases {
		kc, err := fleet.Kubeconfig("m1")
		fleettest.Must(t, err)
		fleettest.Must(t, fleet.PutSecret(ctx, "risky-"+name, map[string][]byte{membersecret.Key: edit(t, kc, tc.change)}))
		defer func() { _ = fleet.Unregister(ctx, "risky-"+name) }()
	}
	for name, tc := range destinationCases {
		t.Run(name, func(t *testing.T) {
			waitState(t, "risky-"+name, membersecret.StateRejected, tc.reason)
			if n := fleet.Requests.Total(before, "risky-"+name); n != 0 {
				t.Errorf("%d requests were sent for a refused kubeconfig", n)
			}
		})
	}
	reconciles(t, "m1")
}

// With the hub's allow flags the same kubeconfigs are accepted (link-local
// aside: nothing may dial it here); an allow-list refuses what it lacks.
func TestRiskyDestinationsAllowedByFlags(t *testing.T) {
	setup(t)
	ctx := context.Background()
	const ns = "fleethub-allow"
	fleettest.Must(t, fleet.Hub.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	cfg := fleettest.TestConfig()
	cfg.HubNamespace = ns
	cfg.Members.AllowProxy, cfg.Members.AllowImpersonation, cfg.Members.AllowBasicAuth, cfg.Members.AllowAnonymous = true, true, true, true
	cfg.Members.AllowedServers = "127.0.0.1"
	m, err := fleet.StartManager(cfg)
	fleettest.Must(t, err)
	defer func() { _ = m.Stop() }()

	accepted := map[string]bool{}
	for name, tc := range destinationCases {
		if name == "link-local" {
			continue
		}
		kc, err := fleet.Kubeconfig("m1")
		fleettest.Must(t, err)
		fleettest.Must(t, fleet.PutSecretIn(ctx, ns, name, map[string][]byte{membersecret.Key: edit(t, kc, tc.change)}))
		accepted[name] = true
	}
	kc, err := fleet.Kubeconfig("m2")
	fleettest.Must(t, err)
	byName := edit(t, kc, func(s *string, _ map[string]any) { *s = strings.Replace(*s, "127.0.0.1", "localhost", 1) })
	if !strings.Contains(string(byName), "https://localhost:") {
		t.Fatalf("no server by name in %s", byName)
	}
	fleettest.Must(t, fleet.PutSecretIn(ctx, ns, "by-name", map[string][]byte{membersecret.Key: byName}))

	eventually(t, func() error {
		for name := range accepted {
			// Accepted: the hub connected; whatever the member then answers
			// (the apiserver has no basic auth, refuses anonymous reads, and
			// nothing listens behind the proxy).
			s := &corev1.Secret{}
			if err := fleet.Hub.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
				return err
			}
			st, reason := s.Annotations[membersecret.AnnotationState], s.Annotations[membersecret.AnnotationReason]
			if st == "" || st == string(membersecret.StateConnecting) || st == string(membersecret.StateRejected) {
				return fmt.Errorf("%s is %s/%s (%s); want it accepted", name, st, reason, s.Annotations[membersecret.AnnotationMessage])
			}
		}
		if st, _, _ := m.Provider.MemberState("by-name"); st != membersecret.StateRejected {
			return fmt.Errorf("by-name is %q, want Rejected by the allow-list", st)
		}
		return nil
	})
	s := &corev1.Secret{}
	fleettest.Must(t, fleet.Hub.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "by-name"}, s))
	if s.Annotations[membersecret.AnnotationReason] != kubeconfig.ReasonServerNotAllowed {
		t.Errorf("by-name reason %q, want %s", s.Annotations[membersecret.AnnotationReason], kubeconfig.ReasonServerNotAllowed)
	}
	// Impersonating a system:masters member of the member works end to end.
	eventually(t, func() error {
		if st, _, _ := m.Provider.MemberState("impersonation"); st != membersecret.StateReady {
			return fmt.Errorf("impersonation is %q, want Ready", st)
		}
		return nil
	})
}

// A member where the hub may not list or watch one kind never gets past engagement:
// no controller is handed it (so no reconcile waits on its cache), it says
// which kind, and the other members keep converging.
func TestInformerThatCannotSyncHoldsNoWorker(t *testing.T) {
	setup(t)
	ctx := context.Background()
	m4 := fleet.Members["m4"]
	_, err := envtest.InstallCRDs(m4.Config, envtest.CRDInstallOptions{Paths: []string{filepath.Join("..", "..", "deploy", "crd", "bases")}})
	fleettest.Must(t, err)
	role, err := deploy.MemberClusterRole()
	fleettest.Must(t, err)
	limited := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "fleethub-limited"}}
	for _, r := range role.Rules {
		var rest []string
		for _, res := range r.Resources {
			if res != "simpledbs" {
				rest = append(rest, res)
			}
		}
		if len(rest) != len(r.Resources) {
			// SimpleDBs: no list and no watch (a watch alone can fill an
			// informer: client-go streams the initial list over it).
			limited.Rules = append(limited.Rules, rbacv1.PolicyRule{APIGroups: r.APIGroups, Resources: []string{"simpledbs"}, Verbs: []string{"get", "patch", "update"}})
		}
		if len(rest) > 0 {
			r.Resources = rest
			limited.Rules = append(limited.Rules, r)
		}
	}
	fleettest.Must(t, m4.Client.Create(ctx, limited))
	fleettest.Must(t, m4.Client.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "fleethub-limited"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: limited.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "fleethub-limited"}},
	}))
	user, err := m4.Env.AddUser(envtest.User{Name: "fleethub-limited"}, nil)
	fleettest.Must(t, err)
	kc, err := user.KubeConfig()
	fleettest.Must(t, err)
	fleettest.Must(t, fleet.PutSecret(ctx, "m4-limited", map[string][]byte{membersecret.Key: kc}))
	defer func() { _ = fleet.Unregister(ctx, "m4-limited") }()

	reconciles(t, "m1") // while m4-limited tries to engage
	a := waitState(t, "m4-limited", membersecret.StateUnauthorized, "InformerNotSynced")
	if !strings.Contains(a[membersecret.AnnotationMessage], "SimpleDB") {
		t.Errorf("message %q does not name the kind that cannot sync", a[membersecret.AnnotationMessage])
	}
	if _, err := mgr.Provider.Get(ctx, "m4-limited"); err == nil {
		t.Error("a member whose informers did not sync was handed to the controllers")
	}
	reconciles(t, "m1")
	reconciles(t, "m2")
}
