package domainmanager

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/dns"
	"github.com/fleethub/fleethub/pkg/membersecret"
	"github.com/fleethub/fleethub/providers/dns/inmemory"
)

const hubNS = "fleethub-system"

func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = v1alpha1.AddToScheme(s)
	return s
}

type harness struct {
	t   *testing.T
	r   *Reconciler
	p   *inmemory.Provider
	rec *events.FakeRecorder
}

func newHarness(t *testing.T, hubObjs ...client.Object) *harness {
	p := inmemory.New("example.com", "dev.example.com")
	r := &Reconciler{Provider: p, HubID: "hub1", HubNamespace: hubNS, CredentialsSecret: "dns-credentials",
		DefaultAllowedSuffixes: []string{"example.com"}, ResyncInterval: time.Minute, RateLimitBackoff: time.Minute, SlowRetry: time.Minute}
	hub := fake.NewClientBuilder().WithScheme(scheme()).WithObjects(hubObjs...).Build()
	r.init(hub, hub, hub)
	r.ClaimGracePeriod = time.Hour
	return &harness{t: t, r: r, p: p, rec: events.NewFakeRecorder(100)}
}

func dmIn(name, domain, typ, value string, createdAt int) *v1alpha1.DomainManager {
	return &v1alpha1.DomainManager{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", UID: types.UID(name + "-uid"), Generation: 1, CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(createdAt) * time.Second)),
			Finalizers: []string{v1alpha1.Finalizer}},
		Spec: v1alpha1.DomainManagerSpec{DomainName: domain, RecordType: v1alpha1.DNSRecordType(typ), Value: value, TTL: 1},
	}
}

// sync runs one reconcile's provider half and folds the result into status,
// as Reconcile does.
func (h *harness) sync(cluster string, dm *v1alpha1.DomainManager) statusInput {
	h.t.Helper()
	obs := h.r.sync(context.Background(), logr.Discard(), h.rec, cluster, dm)
	dm.Status = computeStatus(dm, obs, metav1.Now())
	return obs
}

func (h *harness) records(name string) []dns.Record {
	var out []dns.Record
	for _, z := range []string{"example.com", "dev.example.com"} {
		for _, r := range h.p.All(z) {
			if dns.SameName(r.Name, name) {
				out = append(out, r)
			}
		}
	}
	return out
}

func (h *harness) pending() map[string]bool {
	h.r.notify.mu.Lock()
	defer h.r.notify.mu.Unlock()
	out := map[string]bool{}
	for req := range h.r.notify.pending {
		out[req.ClusterName.String()+"/"+req.Name] = true
	}
	h.r.notify.pending = map[mcreconcile.Request]time.Duration{}
	return out
}

func TestSyncCreatesOnceThenWritesNothing(t *testing.T) {
	h := newHarness(t)
	dm := dmIn("www", "WWW.example.com", "A", "192.0.2.1", 0)
	obs := h.sync("alpha", dm)
	if obs.Outcome != outcomeSynced || !obs.Wrote || obs.Record == nil {
		t.Fatalf("first sync = %+v", obs)
	}
	recs := h.records("www.example.com")
	owner := dns.Owner{Hub: "hub1", Cluster: "alpha", Namespace: "shop", Name: "www"}
	if len(recs) != 1 || !dns.OwnedBy(recs[0].Comment, owner) || recs[0].Content != "192.0.2.1" {
		t.Fatalf("records = %+v", recs)
	}
	if dm.Status.RecordID != recs[0].ID || dm.Status.ZoneID != "zone-example.com" || dm.Status.FQDN != "www.example.com" {
		t.Fatalf("status = %+v", dm.Status)
	}
	calls := h.p.Calls()
	if calls[dns.OpLookup] != 1 || calls[dns.OpCreateRecord] != 1 {
		t.Fatalf("calls = %v (want one look before the create)", calls)
	}
	for range 3 {
		if obs := h.sync("alpha", dm); obs.Wrote || obs.Outcome != outcomeSynced {
			t.Fatalf("resync = %+v", obs)
		}
	}
	after := h.p.Calls()
	if after[dns.OpCreateRecord] != 1 || after[dns.OpUpdateRecord] != 0 || after[dns.OpDeleteRecord] != 0 || after[dns.OpLookup] != 1 {
		t.Fatalf("steady state wrote or looked up: %v", after)
	}
}

func TestSyncUpdateAdoptAndUnmanaged(t *testing.T) {
	h := newHarness(t, policyMap("default: {allowedSuffixes: [example.com], adopt: true}"))
	h.r.PolicyConfigMap = "dns-policy"
	dm := dmIn("www", "www.example.com", "A", "192.0.2.1", 0)
	h.sync("alpha", dm)
	dm.Spec.Value, dm.Spec.TTL = "192.0.2.2", 300
	if obs := h.sync("alpha", dm); !obs.Wrote || obs.Outcome != outcomeSynced {
		t.Fatalf("update = %+v", obs)
	}
	if r := h.records("www.example.com"); len(r) != 1 || r[0].Content != "192.0.2.2" || r[0].TTL != 300 {
		t.Fatalf("after update = %+v", r)
	}

	hand := h.p.Put("example.com", dns.Record{Name: "api.example.com", Type: "A", Content: "198.51.100.7", TTL: 1, Comment: "made by hand"})
	api := dmIn("api", "api.example.com", "A", "192.0.2.3", 0)
	obs := h.sync("alpha", api)
	if obs.Outcome != outcomeUnmanaged || obs.Wrote || obs.Blocker.ID != hand.ID {
		t.Fatalf("unmanaged = %+v", obs)
	}
	if r := h.records("api.example.com"); len(r) != 1 || r[0] != hand {
		t.Fatalf("unmanaged record touched: %+v", r)
	}
	api.Annotations = map[string]string{v1alpha1.AnnotationDNSAdopt: "true"}
	obs = h.sync("alpha", api)
	if obs.Outcome != outcomeSynced || !obs.Wrote {
		t.Fatalf("adopt = %+v", obs)
	}
	r := h.records("api.example.com")
	if len(r) != 1 || r[0].ID != hand.ID || r[0].Content != "192.0.2.3" || !dns.OwnedBy(r[0].Comment, h.r.owner("alpha", api)) {
		t.Fatalf("adopted = %+v", r)
	}
}

func TestSyncNeverTouchesAnotherOwnersRecord(t *testing.T) {
	h := newHarness(t)
	other := dns.Owner{Hub: "other-hub", Cluster: "gamma", Namespace: "x", Name: "y"}
	theirs := h.p.Put("example.com", dns.Record{Name: "www.example.com", Type: "A", Content: "203.0.113.1", TTL: 1, Comment: dns.Marker(other)})
	dm := dmIn("www", "www.example.com", "A", "192.0.2.1", 0)
	dm.Annotations = map[string]string{v1alpha1.AnnotationDNSAdopt: "true"}
	obs := h.sync("alpha", dm)
	if obs.Outcome != outcomeForeign || obs.Wrote {
		t.Fatalf("foreign = %+v", obs)
	}
	if r := h.records("www.example.com"); len(r) != 1 || r[0] != theirs {
		t.Fatalf("another owner's record changed: %+v", r)
	}
	ready := meta.FindStatusCondition(dm.Status.Conditions, v1alpha1.ConditionReady)
	if ready.Reason != v1alpha1.ReasonConflict {
		t.Fatalf("ready = %+v", ready)
	}
}

func policyMap(doc string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dns-policy", Namespace: hubNS}, Data: map[string]string{PolicyKey: doc}}
}

func TestSyncPolicy(t *testing.T) {
	// The retired annotation on the member Secret grants nothing.
	legacy := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "gamma", Namespace: hubNS,
		Annotations: map[string]string{v1alpha1.AnnotationDNSAllowedSuffixes: "*"}}}
	h := newHarness(t, legacy, policyMap(`
default: {allowedSuffixes: [example.com]}
members:
  beta: {allowedSuffixes: [team-b.example.com]}
`))
	h.r.PolicyConfigMap = "dns-policy"
	obs := h.sync("beta", dmIn("www", "www.example.com", "A", "192.0.2.1", 0))
	if obs.Outcome != outcomeNotAllowed || len(h.p.Calls()) != 0 {
		t.Fatalf("beta claimed outside its policy: %+v, calls %v", obs, h.p.Calls())
	}
	if obs := h.sync("beta", dmIn("ok", "x.team-b.example.com", "A", "192.0.2.1", 0)); obs.Outcome != outcomeSynced {
		t.Fatalf("beta inside its policy: %+v", obs)
	}
	// Members without an entry get the policy's default (example.com).
	if obs := h.sync("alpha", dmIn("www", "www.example.com", "A", "192.0.2.1", 0)); obs.Outcome != outcomeSynced {
		t.Fatalf("alpha by default: %+v", obs)
	}
	if obs := h.sync("alpha", dmIn("org", "www.example.org", "A", "192.0.2.1", 0)); obs.Outcome != outcomeNotAllowed {
		t.Fatalf("alpha outside the default: %+v", obs)
	}
	dm := dmIn("g", "www.example.org", "A", "192.0.2.1", 0)
	if obs := h.sync("gamma", dm); obs.Outcome != outcomeNotAllowed {
		t.Fatalf("the retired annotation granted a name: %+v", obs)
	}
	if m := meta.FindStatusCondition(dm.Status.Conditions, v1alpha1.ConditionReady).Message; !strings.Contains(m, "ConfigMap fleethub-system/dns-policy default") {
		t.Fatalf("message does not name the policy: %q", m)
	}
	// Wildcards and the apex need grants.
	for _, name := range []string{"*.wild.example.com", "example.com"} {
		if obs := h.sync("alpha", dmIn("w", name, "A", "192.0.2.1", 0)); obs.Outcome != outcomeNotAllowed {
			t.Fatalf("%s without a grant: %+v", name, obs)
		}
	}
	// A broken policy refuses everything, without touching the provider.
	h2 := newHarness(t, policyMap("default: [not, a, map]"))
	h2.r.PolicyConfigMap = "dns-policy"
	if obs := h2.sync("alpha", dmIn("www", "www.example.com", "A", "192.0.2.1", 0)); obs.Outcome != outcomeNotAllowed || len(h2.p.Calls()) != 0 {
		t.Fatalf("broken policy = %+v", obs)
	}
}

func (h *harness) claim(name, typ string) *stored {
	h.t.Helper()
	c, err := h.r.store.getLive(context.Background(), name, typ)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func TestSyncFirstPersistedClaimWinsWhateverTheClocks(t *testing.T) {
	h := newHarness(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "alpha", Namespace: hubNS, Labels: map[string]string{membersecret.Label: "true"}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "beta", Namespace: hubNS, Labels: map[string]string{membersecret.Label: "true"},
			Annotations: map[string]string{membersecret.AnnotationClusterIdentity: "beta-kube-system-uid"}}})
	later := dmIn("later", "www.example.com", "A", "192.0.2.1", 10)
	// beta's apiserver clock is years behind: its DomainManager looks oldest.
	skewed := dmIn("skewed", "www.example.com", "A", "192.0.2.2", 0)
	skewed.CreationTimestamp = metav1.NewTime(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC))

	if obs := h.sync("alpha", later); obs.Outcome != outcomeSynced {
		t.Fatalf("first claimant = %+v", obs)
	}
	c := h.claim("www.example.com", "A")
	if c == nil || c.Holder.Cluster != "alpha" || c.Holder.Identity != "alpha" || c.Holder.UID != "later-uid" || c.ZoneID != "zone-example.com" || c.RecordID != later.Status.RecordID {
		t.Fatalf("claim = %+v", c)
	}
	before := h.p.Calls()
	obs := h.sync("beta", skewed)
	if obs.Outcome != outcomeClaimConflict || obs.Wrote || obs.Winner.Holder.Name != "later" {
		t.Fatalf("skewed claimant = %+v", obs)
	}
	if after := h.p.Calls(); after[dns.OpUpdateRecord] != before[dns.OpUpdateRecord] || after[dns.OpCreateRecord] != before[dns.OpCreateRecord] {
		t.Fatalf("the loser wrote: %v → %v", before, after)
	}
	if r := h.records("www.example.com"); len(r) != 1 || !dns.OwnedBy(r[0].Comment, h.r.owner("alpha", later)) {
		t.Fatalf("record moved: %+v", r)
	}
	// The holder keeps it on every resync, and so does the loser's standing.
	for range 2 {
		if obs := h.sync("alpha", later); obs.Outcome != outcomeSynced || obs.Wrote {
			t.Fatalf("holder resync = %+v", obs)
		}
		if obs := h.sync("beta", skewed); obs.Outcome != outcomeClaimConflict {
			t.Fatalf("loser resync = %+v", obs)
		}
	}
	// A CNAME at the same name clashes with the held A claim.
	if obs := h.sync("beta", dmIn("alias", "www.example.com", "CNAME", "x.example.net", 0)); obs.Outcome != outcomeClaimConflict {
		t.Fatalf("clashing CNAME = %+v", obs)
	}
}

func TestSyncClaimPassesOnOnlyAfterTheGracePeriod(t *testing.T) {
	// alpha is not registered at all: its member has gone.
	h := newHarness(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "beta", Namespace: hubNS, Labels: map[string]string{membersecret.Label: "true"}}})
	gone := dmIn("gone", "www.example.com", "A", "192.0.2.1", 0)
	if obs := h.sync("alpha", gone); obs.Outcome != outcomeSynced {
		t.Fatalf("holder = %+v", obs)
	}
	next := dmIn("next", "www.example.com", "A", "192.0.2.2", 0)
	obs := h.sync("beta", next)
	if obs.Outcome != outcomeClaimConflict || obs.RetryAfter <= 0 || obs.RetryAfter > time.Hour {
		t.Fatalf("within grace = %+v", obs)
	}
	c := h.claim("www.example.com", "A")
	if c.HolderMissingSince.IsZero() {
		t.Fatalf("missing time not recorded: %+v", c)
	}
	// Grace over: the claim and the record pass on.
	expired := c.Claim
	expired.HolderMissingSince = time.Now().Add(-2 * time.Hour)
	if _, err := h.r.store.update(context.Background(), c, expired); err != nil {
		t.Fatal(err)
	}
	if obs := h.sync("beta", next); obs.Outcome != outcomeSynced || !obs.Wrote {
		t.Fatalf("after grace = %+v", obs)
	}
	r := h.records("www.example.com")
	if len(r) != 1 || r[0].ID != c.RecordID || r[0].Content != "192.0.2.2" || !dns.OwnedBy(r[0].Comment, h.r.owner("beta", next)) {
		t.Fatalf("record after passing on = %+v", r)
	}
	if c := h.claim("www.example.com", "A"); c.Holder.Name != "next" || c.Previous == nil || c.Previous.Name != "gone" {
		t.Fatalf("claim after passing on = %+v", c)
	}
}

func TestSyncUnderscoreNamesBelongToTheBaseHolder(t *testing.T) {
	h := newHarness(t, policyMap(`
default: {allowedSuffixes: [example.com]}
members:
  beta: {allowedSuffixes: [example.com], underscore: true}
`))
	h.r.PolicyConfigMap = "dns-policy"
	if obs := h.sync("alpha", dmIn("www", "www.example.com", "A", "192.0.2.1", 0)); obs.Outcome != outcomeSynced {
		t.Fatal(obs)
	}
	// Another member, even with the underscore grant, is refused.
	obs := h.sync("beta", dmIn("acme", "_acme-challenge.www.example.com", "TXT", "token", 0))
	if obs.Outcome != outcomeClaimConflict || obs.Under != "www.example.com" || len(h.records("_acme-challenge.www.example.com")) != 0 {
		t.Fatalf("beta's challenge = %+v", obs)
	}
	// The holder's member may, without any grant.
	if obs := h.sync("alpha", dmIn("acme", "_acme-challenge.www.example.com", "TXT", "token", 0)); obs.Outcome != outcomeSynced {
		t.Fatalf("alpha's challenge = %+v", obs)
	}
	// Under a name nobody holds: only with the grant.
	if obs := h.sync("alpha", dmIn("dmarc", "_dmarc.shop.example.com", "TXT", "v=DMARC1", 0)); obs.Outcome != outcomeNotAllowed {
		t.Fatalf("alpha's unheld underscore name = %+v", obs)
	}
	if obs := h.sync("beta", dmIn("dmarc", "_dmarc.shop.example.com", "TXT", "v=DMARC1", 0)); obs.Outcome != outcomeSynced {
		t.Fatalf("beta's granted underscore name = %+v", obs)
	}
}

func TestSyncAdoptionNeedsPolicyAndIsHandedBack(t *testing.T) {
	h := newHarness(t, policyMap(`
default: {allowedSuffixes: [example.com]}
members:
  beta: {allowedSuffixes: [example.com], adopt: true}
`))
	h.r.PolicyConfigMap = "dns-policy"
	ctx := context.Background()
	hand := h.p.Put("example.com", dns.Record{Name: "legacy.example.com", Type: "A", Content: "198.51.100.7", TTL: 1, Comment: "made by hand"})
	adopt := func(d *v1alpha1.DomainManager) *v1alpha1.DomainManager {
		d.Annotations = map[string]string{v1alpha1.AnnotationDNSAdopt: "true"}
		return d
	}
	dm := adopt(dmIn("legacy", "legacy.example.com", "A", "192.0.2.3", 0))
	if obs := h.sync("alpha", dm); obs.Outcome != outcomeUnmanaged || !obs.AdoptRefused || obs.Wrote {
		t.Fatalf("adoption without policy = %+v", obs)
	}
	if r := h.records("legacy.example.com"); len(r) != 1 || r[0] != hand {
		t.Fatalf("record touched: %+v", r)
	}
	if h.claim("legacy.example.com", "A") != nil {
		t.Fatal("a refused adoption holds a claim")
	}
	dm = adopt(dmIn("legacy", "legacy.example.com", "A", "192.0.2.3", 0))
	if obs := h.sync("beta", dm); obs.Outcome != outcomeSynced || !obs.Wrote {
		t.Fatalf("adoption with policy = %+v", obs)
	}
	if c := h.claim("legacy.example.com", "A"); !c.Adopted || c.OriginalComment != "made by hand" {
		t.Fatalf("claim = %+v", c)
	}
	// Deleted: the record stays with its value, unmanaged again.
	member := fake.NewClientBuilder().WithScheme(scheme()).WithObjects(dm).WithStatusSubresource(dm).Build()
	fleethubDelete(t, member, dm)
	if _, err := h.r.finalize(ctx, member, h.rec, "beta", dm); err != nil {
		t.Fatal(err)
	}
	r := h.records("legacy.example.com")
	if len(r) != 1 || r[0].ID != hand.ID || r[0].Comment != "made by hand" || dns.HasMarker(r[0].Comment) {
		t.Fatalf("adopted record after deletion = %+v", r)
	}
	if h.claim("legacy.example.com", "A") != nil {
		t.Fatal("claim not released")
	}
}

func TestSyncConflictAndTakeover(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	first := dmIn("first", "www.example.com", "A", "192.0.2.1", 10)
	second := dmIn("second", "www.example.com", "A", "192.0.2.2", 0)

	if obs := h.sync("alpha", first); obs.Outcome != outcomeSynced {
		t.Fatalf("first = %+v", obs)
	}
	h.r.index.put(dns.ClaimKey{Cluster: "beta", Namespace: "shop", Name: "second"}, "www.example.com")
	if obs := h.sync("beta", second); obs.Outcome != outcomeClaimConflict || obs.Wrote {
		t.Fatalf("second = %+v", obs)
	}
	h.pending()
	// The holder is deleted: its record and claim go, then beta is told and takes over.
	member := fake.NewClientBuilder().WithScheme(scheme()).WithObjects(first).WithStatusSubresource(first).Build()
	fleethubDelete(t, member, first)
	if _, err := h.r.finalize(ctx, member, h.rec, "alpha", first); err != nil {
		t.Fatal(err)
	}
	if r := h.records("www.example.com"); len(r) != 0 {
		t.Fatalf("holder's record left: %+v", r)
	}
	if h.claim("www.example.com", "A") != nil {
		t.Fatal("holder's claim left")
	}
	if p := h.pending(); !p["beta/second"] {
		t.Fatalf("beta not re-queued after the holder went: %v", p)
	}
	if obs := h.sync("beta", second); obs.Outcome != outcomeSynced {
		t.Fatalf("takeover = %+v", obs)
	}
	if r := h.records("www.example.com"); len(r) != 1 || r[0].Content != "192.0.2.2" || !dns.OwnedBy(r[0].Comment, h.r.owner("beta", second)) {
		t.Fatalf("after takeover = %+v", r)
	}
}

// fleethubDelete marks dm deleted in the fake member, as kubectl delete does
// for an object with a finalizer.
func fleethubDelete(t *testing.T, c client.Client, dm *v1alpha1.DomainManager) {
	t.Helper()
	if err := c.Delete(context.Background(), dm); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(dm), dm); err != nil {
		t.Fatal(err)
	}
	if dm.DeletionTimestamp.IsZero() {
		t.Fatal("no deletion timestamp")
	}
}

func TestSyncTypeChangeAndZoneMove(t *testing.T) {
	h := newHarness(t)
	dm := dmIn("alias", "www.dev.example.com", "CNAME", "target.example.net", 0)
	dm.Spec.Zone = "example.com"
	h.sync("alpha", dm)
	if r := h.p.All("example.com"); len(r) != 1 || r[0].Type != "CNAME" {
		t.Fatalf("CNAME in example.com: %+v", r)
	}
	// CNAME → A at the same name: ours is deleted first, then the A created.
	dm.Spec.RecordType, dm.Spec.Value = "A", "192.0.2.1"
	if obs := h.sync("alpha", dm); obs.Outcome != outcomeSynced {
		t.Fatalf("type change = %+v", obs)
	}
	if r := h.p.All("example.com"); len(r) != 1 || r[0].Type != "A" {
		t.Fatalf("after type change: %+v", r)
	}
	if h.claim("www.dev.example.com", "CNAME") != nil || h.claim("www.dev.example.com", "A") == nil {
		t.Fatal("the claim did not follow the type change")
	}
	// Dropping spec.zone moves the record to the longer zone dev.example.com.
	dm.Spec.Zone = ""
	if obs := h.sync("alpha", dm); obs.Outcome != outcomeSynced {
		t.Fatalf("zone move = %+v", obs)
	}
	if old, now := h.p.All("example.com"), h.p.All("dev.example.com"); len(old) != 0 || len(now) != 1 {
		t.Fatalf("after zone move: old %+v new %+v", old, now)
	}
	if dm.Status.ZoneID != "zone-dev.example.com" || dm.Status.Zone != "dev.example.com" {
		t.Fatalf("status zone = %s %s", dm.Status.Zone, dm.Status.ZoneID)
	}
	// A renamed domain: the old name's record goes.
	dm.Spec.DomainName = "api.dev.example.com"
	h.sync("alpha", dm)
	if r := h.p.All("dev.example.com"); len(r) != 1 || r[0].Name != "api.dev.example.com" {
		t.Fatalf("after rename: %+v", r)
	}
	if h.claim("www.dev.example.com", "A") != nil || h.claim("api.dev.example.com", "A") == nil {
		t.Fatal("the claim on the old name was not released")
	}
	if c := h.claim("api.dev.example.com", "A"); c.ZoneID != "zone-dev.example.com" {
		t.Fatalf("claim zone = %+v", c)
	}
}

func TestSyncProviderErrorsKeepWhatWeOwn(t *testing.T) {
	h := newHarness(t)
	dm := dmIn("www", "www.example.com", "A", "192.0.2.1", 0)
	h.sync("alpha", dm)
	id := dm.Status.RecordID
	dm.Spec.Value = "192.0.2.9"
	h.p.Fail(dns.OpUpdateRecord, dns.KindTransient)
	obs := h.sync("alpha", dm)
	if obs.Outcome != outcomeProviderError || dns.KindOf(obs.Err) != dns.KindTransient || dm.Status.RecordID != id {
		t.Fatalf("failed update = %+v, status %+v", obs, dm.Status)
	}
	if obs := h.sync("alpha", dm); obs.Outcome != outcomeSynced || !obs.Wrote {
		t.Fatalf("retry = %+v", obs)
	}
	h.p.Fail(dns.OpListZones, dns.KindAuth)
	if obs := h.sync("alpha", dm); dns.KindOf(obs.Err) != dns.KindAuth {
		t.Fatalf("auth = %+v", obs)
	}
	// No zone for the name.
	bad := dmIn("nozone", "www.example.net", "A", "192.0.2.1", 0)
	h.r.DefaultAllowedSuffixes = []string{"*"}
	obs = h.sync("alpha", bad)
	if ready := meta.FindStatusCondition(bad.Status.Conditions, v1alpha1.ConditionReady); ready.Reason != v1alpha1.ReasonZoneNotFound {
		t.Fatalf("no zone: %+v %+v", obs, ready)
	}
	// An invalid spec that got past the CRD never reaches the provider.
	before := h.p.Calls()
	inv := dmIn("inv", "www.example.com", "A", "not-an-ip", 0)
	if obs := h.sync("alpha", inv); obs.Outcome != outcomeInvalid {
		t.Fatalf("invalid = %+v", obs)
	}
	if after := h.p.Calls(); len(after) != len(before) || after[dns.OpListZones] != before[dns.OpListZones] {
		t.Fatalf("invalid spec called the provider: %v → %v", before, after)
	}
}

func TestFinalize(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	dm := dmIn("www", "www.example.com", "A", "192.0.2.1", 0)
	h.sync("alpha", dm)
	member := fake.NewClientBuilder().WithScheme(scheme()).WithObjects(dm).WithStatusSubresource(dm).Build()
	fleethubDelete(t, member, dm)

	// The provider fails: the finalizer stays and Ready says why.
	h.p.Fail(dns.OpDeleteRecord, dns.KindTransient)
	if _, err := h.r.finalize(ctx, member, h.rec, "alpha", dm); err == nil {
		t.Fatal("a failed delete did not back off")
	}
	cur := &v1alpha1.DomainManager{}
	if err := member.Get(ctx, client.ObjectKeyFromObject(dm), cur); err != nil {
		t.Fatal(err)
	}
	ready := meta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionReady)
	if len(cur.Finalizers) != 1 || ready == nil || ready.Reason != v1alpha1.ReasonDeletionBlocked {
		t.Fatalf("after failed delete: finalizers %v ready %+v", cur.Finalizers, ready)
	}
	if len(h.records("www.example.com")) != 1 {
		t.Fatal("record gone although the delete failed")
	}
	// Someone deleted the record by hand meanwhile: 404 counts as done.
	h.p.Fail(dns.OpDeleteRecord, dns.KindNotFound)
	if _, err := h.r.finalize(ctx, member, h.rec, "alpha", cur); err != nil {
		t.Fatal(err)
	}
	if err := member.Get(ctx, client.ObjectKeyFromObject(dm), &v1alpha1.DomainManager{}); err == nil {
		t.Fatal("DomainManager still there")
	}

	// Orphan: the record stays, without any provider call.
	keep := dmIn("keep", "keep.example.com", "A", "192.0.2.1", 0)
	h.sync("alpha", keep)
	keep.Annotations = map[string]string{v1alpha1.AnnotationDNSDeletionPolicy: v1alpha1.DNSDeletionPolicyOrphan}
	member = fake.NewClientBuilder().WithScheme(scheme()).WithObjects(keep).WithStatusSubresource(keep).Build()
	fleethubDelete(t, member, keep)
	before := h.p.Calls()
	h.p.Fail(dns.OpListRecords, dns.KindTransient) // would fail if called
	if _, err := h.r.finalize(ctx, member, h.rec, "alpha", keep); err != nil {
		t.Fatal(err)
	}
	if after := h.p.Calls(); after[dns.OpListRecords] != before[dns.OpListRecords] || after[dns.OpDeleteRecord] != before[dns.OpDeleteRecord] {
		t.Fatalf("orphan called the provider: %v → %v", before, after)
	}
	if len(h.records("keep.example.com")) != 1 {
		t.Fatal("orphaned record deleted")
	}

	// Never written (no zone in status): released without provider calls,
	// even when the provider cannot be reached.
	never := dmIn("never", "www.example.org", "A", "192.0.2.1", 0)
	member = fake.NewClientBuilder().WithScheme(scheme()).WithObjects(never).WithStatusSubresource(never).Build()
	fleethubDelete(t, member, never)
	if _, err := h.r.finalize(ctx, member, h.rec, "alpha", never); err != nil {
		t.Fatal(err)
	}
}

// staleProvider serves a record list that predates a record made by hand,
// as the provider's cache may for up to one resync interval.
type staleProvider struct {
	*inmemory.Provider
	stale []dns.Record
}

func (s staleProvider) Records(context.Context, dns.Zone) ([]dns.Record, error) {
	return s.stale, nil
}

func TestSyncLooksBeforeItCreates(t *testing.T) {
	h := newHarness(t)
	h.r.Provider = staleProvider{Provider: h.p}
	hand := h.p.Put("example.com", dns.Record{Name: "www.example.com", Type: "A", Content: "203.0.113.9", TTL: 1})
	obs := h.sync("alpha", dmIn("www", "www.example.com", "A", "192.0.2.1", 0))
	if obs.Outcome != outcomeUnmanaged || obs.Blocker.ID != hand.ID {
		t.Fatalf("outcome = %+v", obs)
	}
	if n := len(h.records("www.example.com")); n != 1 {
		t.Fatalf("created next to a record the stale list did not show: %d records", n)
	}
	// Our own record from a create whose answer was lost is recognised, not duplicated.
	mine := h.p.Put("example.com", dns.Record{Name: "api.example.com", Type: "A", Content: "192.0.2.2", TTL: 1,
		Comment: dns.Marker(dns.Owner{Hub: "hub1", Cluster: "alpha", Namespace: "shop", Name: "api"})})
	obs = h.sync("alpha", dmIn("api", "api.example.com", "A", "192.0.2.2", 0))
	if obs.Outcome != outcomeSynced || obs.Wrote || obs.Record.ID != mine.ID {
		t.Fatalf("outcome = %+v", obs)
	}
}
