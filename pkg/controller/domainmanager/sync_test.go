package domainmanager

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/dns"
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
	r.init(fake.NewClientBuilder().WithScheme(scheme()).WithObjects(hubObjs...).Build())
	return &harness{t: t, r: r, p: p, rec: events.NewFakeRecorder(100)}
}

func dmIn(name, domain, typ, value string, createdAt int) *v1alpha1.DomainManager {
	return &v1alpha1.DomainManager{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Generation: 1, CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(createdAt) * time.Second)),
			Finalizers: []string{v1alpha1.Finalizer}},
		Spec: v1alpha1.DomainManagerSpec{DomainName: domain, RecordType: v1alpha1.DNSRecordType(typ), Value: value, TTL: 1},
	}
}

// sync runs one reconcile's provider half and folds the result into status,
// as Reconcile does.
func (h *harness) sync(cluster string, dm *v1alpha1.DomainManager) observed {
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
	h.r.notify.pending = map[mcreconcile.Request]bool{}
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
	h := newHarness(t)
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

func TestSyncPolicy(t *testing.T) {
	restricted := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "beta", Namespace: hubNS,
		Annotations: map[string]string{v1alpha1.AnnotationDNSAllowedSuffixes: "team-b.example.com"}}}
	h := newHarness(t, restricted)
	obs := h.sync("beta", dmIn("www", "www.example.com", "A", "192.0.2.1", 0))
	if obs.Outcome != outcomeNotAllowed || len(h.p.Calls()) != 0 {
		t.Fatalf("beta claimed outside its policy: %+v, calls %v", obs, h.p.Calls())
	}
	if obs := h.sync("beta", dmIn("ok", "x.team-b.example.com", "A", "192.0.2.1", 0)); obs.Outcome != outcomeSynced {
		t.Fatalf("beta inside its policy: %+v", obs)
	}
	// Members without the annotation get the hub default (example.com).
	if obs := h.sync("alpha", dmIn("www", "www.example.com", "A", "192.0.2.1", 0)); obs.Outcome != outcomeSynced {
		t.Fatalf("alpha by default: %+v", obs)
	}
	if obs := h.sync("alpha", dmIn("org", "www.example.org", "A", "192.0.2.1", 0)); obs.Outcome != outcomeNotAllowed {
		t.Fatalf("alpha outside the default: %+v", obs)
	}
}

func TestSyncConflictHandoverAndTakeover(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	first := dmIn("first", "www.example.com", "A", "192.0.2.1", 0)
	second := dmIn("second", "www.example.com", "A", "192.0.2.2", 10)

	// The later DomainManager is reconciled first (its member was engaged
	// first, or the hub just restarted) and creates the record.
	if obs := h.sync("beta", second); obs.Outcome != outcomeSynced {
		t.Fatalf("second alone = %+v", obs)
	}
	h.pending()
	// The earlier one shows up: it may not touch beta's record yet, and beta
	// is told it lost.
	if obs := h.sync("alpha", first); obs.Outcome != outcomeForeign || obs.Wrote {
		t.Fatalf("first while beta holds the record = %+v", obs)
	}
	if p := h.pending(); !p["beta/second"] {
		t.Fatalf("beta not re-queued: %v", p)
	}
	// Beta hands the record over, keeping it answering.
	obs := h.sync("beta", second)
	if obs.Outcome != outcomeClaimConflict || obs.Winner.Key.Name != "first" || second.Status.RecordID != "" {
		t.Fatalf("second after first appeared = %+v, status %+v", obs, second.Status)
	}
	r := h.records("www.example.com")
	if len(r) != 1 || !dns.OwnedBy(r[0].Comment, h.r.owner("alpha", first)) || r[0].Content != "192.0.2.2" {
		t.Fatalf("after handover = %+v", r)
	}
	if p := h.pending(); !p["alpha/first"] {
		t.Fatalf("the winner was not told it can take over: %v", p)
	}
	// The winner now owns it and sets its value.
	if obs := h.sync("alpha", first); obs.Outcome != outcomeSynced || !obs.Wrote {
		t.Fatalf("first after handover = %+v", obs)
	}
	// The loser stays quiet.
	before := h.p.Calls()
	if obs := h.sync("beta", second); obs.Outcome != outcomeClaimConflict || obs.Wrote {
		t.Fatalf("loser wrote: %+v", obs)
	}
	if after := h.p.Calls(); after[dns.OpUpdateRecord] != before[dns.OpUpdateRecord] || after[dns.OpCreateRecord] != before[dns.OpCreateRecord] {
		t.Fatalf("loser wrote: %v → %v", before, after)
	}

	// The winner is deleted: its record goes, then beta is told and takes over.
	member := fake.NewClientBuilder().WithScheme(scheme()).WithObjects(first).WithStatusSubresource(first).Build()
	fleethubDelete(t, member, first)
	if _, err := h.r.finalize(ctx, member, h.rec, "alpha", first); err != nil {
		t.Fatal(err)
	}
	if r := h.records("www.example.com"); len(r) != 0 {
		t.Fatalf("winner's record left: %+v", r)
	}
	if p := h.pending(); !p["beta/second"] {
		t.Fatalf("beta not re-queued after the winner went: %v", p)
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
