package domainmanager

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/dns"
	"github.com/fleethub/fleethub/pkg/membersecret"
	"github.com/fleethub/fleethub/providers/dns/inmemory"
)

// credentialed records what the watcher hands the provider.
type credentialed struct {
	*inmemory.Provider
	calls []map[string][]byte
	token string
}

func (c *credentialed) SetCredentials(data map[string][]byte) bool {
	c.calls = append(c.calls, data)
	tok := "<missing>"
	if data != nil {
		tok = string(data["apiToken"])
	}
	changed := tok != c.token
	c.token = tok
	return changed
}

func TestHubWatcherCredentialsAndPolicy(t *testing.T) {
	ctx := context.Background()
	prov := &credentialed{Provider: inmemory.New("example.com")}
	member := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "beta", Namespace: hubNS}}
	hub := fake.NewClientBuilder().WithScheme(scheme()).WithObjects(member).Build()
	r := &Reconciler{Provider: prov, HubNamespace: hubNS, CredentialsSecret: "dns-credentials"}
	r.init(hub, hub, hub)
	r.PolicyConfigMap = "dns-policy"
	w := &hubWatcher{r: r, client: hub, members: map[string]memberSeen{}}
	pending := func() map[string]bool {
		h := &harness{r: r}
		return h.pending()
	}
	for _, k := range []dns.ClaimKey{{Cluster: "alpha", Namespace: "ns", Name: "a"}, {Cluster: "beta", Namespace: "ns", Name: "b"}} {
		r.index.put(k, k.Name+".example.com")
	}
	reconcileSecret := func(name string) {
		t.Helper()
		if _, err := w.Reconcile(ctx, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: hubNS, Name: name}}); err != nil {
			t.Fatal(err)
		}
	}

	// Missing Secret: the provider is told (nil data), everyone re-checked once.
	reconcileSecret("dns-credentials")
	if len(prov.calls) != 1 || prov.calls[0] != nil {
		t.Fatalf("calls = %v", prov.calls)
	}
	if p := pending(); !p["alpha/a"] || !p["beta/b"] {
		t.Fatalf("pending = %v", p)
	}
	// The Secret appears: the token is handed over, everyone re-checked.
	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "dns-credentials", Namespace: hubNS}, Data: map[string][]byte{"apiToken": []byte("t1")}}
	if err := hub.Create(ctx, creds); err != nil {
		t.Fatal(err)
	}
	reconcileSecret("dns-credentials")
	if prov.token != "t1" || len(pending()) != 2 {
		t.Fatalf("token %q", prov.token)
	}
	// An unrelated update of the Secret (same token): nobody re-queued.
	reconcileSecret("dns-credentials")
	if p := pending(); len(p) != 0 {
		t.Fatalf("re-queued without a change: %v", p)
	}

	// Member Secrets: a registration (the label) re-queues everyone, as
	// claims held by that member may now stay or pass on.
	reconcileSecret("beta")
	if p := pending(); len(p) != 0 {
		t.Fatalf("an unlabelled Secret re-queued: %v", p)
	}
	update := func(f func(*corev1.Secret)) {
		t.Helper()
		cur := &corev1.Secret{}
		if err := hub.Get(ctx, client.ObjectKeyFromObject(member), cur); err != nil {
			t.Fatal(err)
		}
		if cur.Annotations == nil {
			cur.Annotations = map[string]string{}
		}
		if cur.Labels == nil {
			cur.Labels = map[string]string{}
		}
		f(cur)
		if err := hub.Update(ctx, cur); err != nil {
			t.Fatal(err)
		}
		reconcileSecret("beta")
	}
	update(func(s *corev1.Secret) { s.Labels[membersecret.Label] = "true" })
	if p := pending(); len(p) != 2 {
		t.Fatalf("registration re-queued %v", p)
	}
	// The identity is recorded: re-queued again. Other annotations (the
	// provider's state) and the retired policy annotation: not.
	update(func(s *corev1.Secret) { s.Annotations[membersecret.AnnotationClusterIdentity] = "uid-1" })
	if p := pending(); len(p) != 2 {
		t.Fatalf("identity re-queued %v", p)
	}
	update(func(s *corev1.Secret) {
		s.Annotations["app.54b3r.io/member-state"] = "Ready"
		s.Annotations[v1alpha1.AnnotationDNSAllowedSuffixes] = "*"
	})
	if p := pending(); len(p) != 0 {
		t.Fatalf("unrelated annotations re-queued %v", p)
	}

	// The policy ConfigMap: first sight and every change re-queue everyone.
	reconcileCM := func(name string) {
		t.Helper()
		if _, err := w.reconcileConfigMap(ctx, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: hubNS, Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	reconcileCM("dns-policy")
	if p := pending(); len(p) != 2 {
		t.Fatalf("policy first sight re-queued %v", p)
	}
	reconcileCM("dns-policy")
	if p := pending(); len(p) != 0 {
		t.Fatalf("unchanged policy re-queued %v", p)
	}
	if err := hub.Create(ctx, policyMap("default: {allowedSuffixes: [example.com]}")); err != nil {
		t.Fatal(err)
	}
	reconcileCM("dns-policy")
	if p := pending(); len(p) != 2 {
		t.Fatalf("policy change re-queued %v", p)
	}
	// A claim object: only the DomainManagers waiting on its name.
	reconcileCM(claimObjectName("b.example.com", "A"))
	if p := pending(); len(p) != 1 || !p["beta/b"] {
		t.Fatalf("claim change re-queued %v", p)
	}
}
