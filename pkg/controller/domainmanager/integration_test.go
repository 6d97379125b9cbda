package domainmanager_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/cmd/manager/app/fleettest"
	"github.com/fleethub/fleethub/pkg/config"
	"github.com/fleethub/fleethub/pkg/dns"
	"github.com/fleethub/fleethub/providers/dns/cloudflare/cloudflaretest"
)

const (
	hubID       = "test-hub"
	credsSecret = "dns-credentials"
	token1      = "token-1"
	wait        = 30 * time.Second
)

var (
	fleet *fleettest.Fleet
	mgr   *fleettest.Manager
	cf    *cloudflaretest.Server
	cfg   config.Config
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	fleettest.SetupLogging()
	cf = cloudflaretest.NewServer(token1)
	defer cf.Close()
	for _, z := range []string{"example.com", "example.org", "dev.example.com", "bench.example", "locked.example.org"} {
		cf.AddZone(z)
	}
	var err error
	fleet, err = fleettest.Start("alpha", "beta")
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the test fleet:", err)
		return 1
	}
	defer fleet.Stop()
	ctx := context.Background()
	for _, name := range []string{"alpha", "beta"} {
		if err := fleet.Register(ctx, name); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if err := putCredentials(ctx, token1); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg = fleettest.TestConfig()
	cfg.DNS = config.DNSConfig{
		Provider:          config.DNSProviderCloudflare,
		CredentialsSecret: credsSecret,
		CloudflareAPIURL:  cf.BaseURL(),
		HubID:             hubID,
		AllowedSuffixes:   "example.com, example.org, bench.example",
		RateLimitBackoff:  2 * time.Second,
		RequestsPerSecond: 1000,
		RequestTimeout:    time.Second,
	}
	mgr, err = fleet.StartManager(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the manager:", err)
		return 1
	}
	defer func() { _ = mgr.Stop() }()
	if err := mgr.WaitEngaged(ctx, "alpha", "beta"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func putCredentials(ctx context.Context, token string) error {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: credsSecret, Namespace: fleettest.HubNamespace}}
	err := fleet.Hub.Client.Get(ctx, client.ObjectKeyFromObject(s), s)
	s.Data = map[string][]byte{"apiToken": []byte(token)}
	if apierrors.IsNotFound(err) {
		return fleet.Hub.Client.Create(ctx, s)
	}
	if err != nil {
		return err
	}
	return fleet.Hub.Client.Update(ctx, s)
}

func namespace(t *testing.T, members ...string) string {
	t.Helper()
	return fleet.Namespace(t, members...)
}

func domainManager(ns, name, domain, typ, value string, mut ...func(*v1alpha1.DomainManager)) *v1alpha1.DomainManager {
	dm := &v1alpha1.DomainManager{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       v1alpha1.DomainManagerSpec{DomainName: domain, RecordType: v1alpha1.DNSRecordType(typ), Value: value},
	}
	for _, f := range mut {
		f(dm)
	}
	return dm
}

func eventually(t *testing.T, check func() error) {
	t.Helper()
	if err := fleettest.Eventually(context.Background(), wait, check); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, member, ns, name string) *v1alpha1.DomainManager {
	t.Helper()
	dm := &v1alpha1.DomainManager{}
	fleettest.Must(t, fleet.Members[member].Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, dm))
	return dm
}

// waitReason waits until the DomainManager's Ready condition has reason.
func waitReason(t *testing.T, member, ns, name, reason string) *v1alpha1.DomainManager {
	t.Helper()
	var dm *v1alpha1.DomainManager
	eventually(t, func() error {
		dm = &v1alpha1.DomainManager{}
		if err := fleet.Members[member].Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, dm); err != nil {
			return err
		}
		r := meta.FindStatusCondition(dm.Status.Conditions, v1alpha1.ConditionReady)
		if r == nil || r.Reason != reason || r.ObservedGeneration != dm.Generation {
			return fmt.Errorf("%s/%s/%s: want Ready reason %s, got %+v", member, ns, name, reason, r)
		}
		return nil
	})
	return dm
}

func ready(dm *v1alpha1.DomainManager) *metav1.Condition {
	return meta.FindStatusCondition(dm.Status.Conditions, v1alpha1.ConditionReady)
}

func owner(cluster, ns, name string) dns.Owner {
	return dns.Owner{Hub: hubID, Cluster: cluster, Namespace: ns, Name: name}
}

// only returns the single record at name/type at the fake, failing otherwise.
func only(name, typ string) (cloudflaretest.Record, error) {
	recs := cf.Find(name, typ)
	if len(recs) != 1 {
		return cloudflaretest.Record{}, fmt.Errorf("want exactly one %s record %s, got %+v", typ, name, recs)
	}
	return recs[0], nil
}

func waitGone(t *testing.T, member string, dm *v1alpha1.DomainManager) {
	t.Helper()
	eventually(t, func() error {
		err := fleet.Members[member].Client.Get(context.Background(), client.ObjectKeyFromObject(dm), &v1alpha1.DomainManager{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("%s/%s still there: %w", member, dm.Name, err)
		}
		return nil
	})
}

func TestCreateUpdateDelete(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "alpha")
	c := fleet.Members["alpha"].Client

	web := domainManager(ns, "web", "crud.example.com", "A", "192.0.2.1")
	fleettest.Must(t, c.Create(ctx, web))
	dm := waitReason(t, "alpha", ns, "web", v1alpha1.ReasonRecordSynced)
	rec, err := only("crud.example.com", "A")
	fleettest.Must(t, err)
	if !dns.OwnedBy(rec.Comment, owner("alpha", ns, "web")) || rec.Content != "192.0.2.1" || rec.TTL != 1 || rec.Proxied {
		t.Fatalf("record = %+v", rec)
	}
	st := dm.Status
	if st.FQDN != "crud.example.com" || st.ZoneID != cf.ZoneID("example.com") || st.Zone != "example.com" || st.RecordID != rec.ID ||
		st.LastSyncTime == nil || st.ObservedGeneration != dm.Generation || ready(dm).Status != metav1.ConditionTrue {
		t.Fatalf("status = %+v", st)
	}
	if len(dm.Finalizers) != 1 || dm.Finalizers[0] != v1alpha1.Finalizer {
		t.Fatalf("finalizers = %v", dm.Finalizers)
	}
	if v := testutil.ToFloat64(dns.APICalls.WithLabelValues(dns.OpCreateRecord, "success", "alpha")); v < 1 {
		t.Errorf("domainmanager_api_calls_total{create_record,success,alpha} = %v", v)
	}

	// Update in place: same record, new value and TTL.
	dm.Spec.Value, dm.Spec.TTL = "192.0.2.2", 300
	fleettest.Must(t, c.Update(ctx, dm))
	eventually(t, func() error {
		r, err := only("crud.example.com", "A")
		if err != nil {
			return err
		}
		if r.ID != rec.ID || r.Content != "192.0.2.2" || r.TTL != 300 {
			return fmt.Errorf("record not updated in place: %+v", r)
		}
		return nil
	})
	waitReason(t, "alpha", ns, "web", v1alpha1.ReasonRecordSynced)

	// A proxied AAAA with a mixed-case name and a non-canonical address: the
	// provider reports ttl 1 and rewrites both, and nothing loops on that.
	v6 := domainManager(ns, "v6", "V6-CRUD.Example.com", "AAAA", "2001:DB8:0::5", func(d *v1alpha1.DomainManager) { d.Spec.Proxied = true })
	fleettest.Must(t, c.Create(ctx, v6))
	waitReason(t, "alpha", ns, "v6", v1alpha1.ReasonRecordSynced)
	r6, err := only("v6-crud.example.com", "AAAA")
	fleettest.Must(t, err)
	patches := cf.Count(http.MethodPatch, "/zones/"+r6.ZoneID+"/dns_records/"+r6.ID)
	time.Sleep(2*cfg.ResyncInterval + 500*time.Millisecond)
	if n := cf.Count(http.MethodPatch, "/zones/"+r6.ZoneID+"/dns_records/"+r6.ID) - patches; n != 0 {
		t.Fatalf("the proxied record was rewritten %d times", n)
	}

	// Delete: the record goes, then the DomainManager.
	fleettest.Must(t, c.Delete(ctx, dm))
	fleettest.Must(t, c.Delete(ctx, v6))
	waitGone(t, "alpha", dm)
	waitGone(t, "alpha", v6)
	if recs := append(cf.Find("crud.example.com", ""), cf.Find("v6-crud.example.com", "")...); len(recs) != 0 {
		t.Fatalf("records left after deletion: %+v", recs)
	}
}

func TestPolicy(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "alpha", "beta")
	setPolicy(t, `
members:
  beta: {allowedSuffixes: [team-b.example.org]}
`)
	// The retired per-member annotation grants nothing, and says so.
	fleettest.Must(t, fleet.Hub.Client.Patch(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "beta", Namespace: fleettest.HubNamespace}},
		client.RawPatch(types.MergePatchType, []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:"*"}}}`, v1alpha1.AnnotationDNSAllowedSuffixes)))))
	t.Cleanup(func() {
		_ = fleet.Hub.Client.Patch(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "beta", Namespace: fleettest.HubNamespace}},
			client.RawPatch(types.MergePatchType, []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, v1alpha1.AnnotationDNSAllowedSuffixes))))
	})
	eventually(t, func() error {
		list := &eventsv1.EventList{}
		if err := fleet.Hub.Client.List(ctx, list, client.InNamespace(fleettest.HubNamespace)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Reason == "DNSPolicyAnnotationIgnored" && e.Regarding.Name == "beta" && e.Type == corev1.EventTypeWarning && strings.Contains(e.Note, policyName) {
				return nil
			}
		}
		return fmt.Errorf("no DNSPolicyAnnotationIgnored Warning on Secret beta")
	})

	b := fleet.Members["beta"].Client
	fleettest.Must(t, b.Create(ctx, domainManager(ns, "denied", "www.policy.example.com", "A", "192.0.2.1")))
	fleettest.Must(t, b.Create(ctx, domainManager(ns, "allowed", "app.team-b.example.org", "A", "192.0.2.1")))
	fleettest.Must(t, fleet.Members["alpha"].Client.Create(ctx, domainManager(ns, "net", "www.policy.example.net", "A", "192.0.2.1")))

	dm := waitReason(t, "beta", ns, "denied", v1alpha1.ReasonDomainNotAllowed)
	if m := ready(dm).Message; !strings.Contains(m, "team-b.example.org") || !strings.Contains(m, "beta") || !strings.Contains(m, policyName+" members.beta") {
		t.Errorf("message = %q", m)
	}
	if !meta.IsStatusConditionTrue(dm.Status.Conditions, v1alpha1.ConditionStalled) {
		t.Errorf("DomainNotAllowed is not Stalled: %+v", dm.Status.Conditions)
	}
	waitReason(t, "beta", ns, "allowed", v1alpha1.ReasonRecordSynced)
	// alpha has no entry: the hub default (example.com, example.org, …) applies.
	waitReason(t, "alpha", ns, "net", v1alpha1.ReasonDomainNotAllowed)
	if recs := append(cf.Find("www.policy.example.com", ""), cf.Find("www.policy.example.net", "")...); len(recs) != 0 {
		t.Fatalf("records written outside the policy: %+v", recs)
	}

	// Widening the member's policy takes effect (the hub watches the policy).
	setPolicy(t, `
members:
  beta: {allowedSuffixes: [team-b.example.org, policy.example.com]}
`)
	waitReason(t, "beta", ns, "denied", v1alpha1.ReasonRecordSynced)
	if _, err := only("www.policy.example.com", "A"); err != nil {
		t.Fatal(err)
	}
}

func TestConflictAcrossMembersAndTakeover(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "alpha", "beta")
	a, b := fleet.Members["alpha"].Client, fleet.Members["beta"].Client
	const name = "shared.example.com"

	first := domainManager(ns, "first", name, "A", "192.0.2.1")
	fleettest.Must(t, a.Create(ctx, first))
	waitReason(t, "alpha", ns, "first", v1alpha1.ReasonRecordSynced)
	time.Sleep(1100 * time.Millisecond) // creationTimestamp has second granularity

	posts := cf.Count(http.MethodPost, "")
	second := domainManager(ns, "second", "SHARED.example.com", "A", "192.0.2.2")
	fleettest.Must(t, b.Create(ctx, second))
	dm := waitReason(t, "beta", ns, "second", v1alpha1.ReasonConflict)
	if m := ready(dm).Message; !strings.Contains(m, ns+"/first") || !strings.Contains(m, "cluster alpha") {
		t.Fatalf("conflict message does not name the winner: %q", m)
	}
	if dm.Status.RecordID != "" {
		t.Errorf("loser reports a record: %+v", dm.Status)
	}
	// The loser wrote nothing.
	time.Sleep(cfg.ResyncInterval)
	rec, err := only(name, "A")
	fleettest.Must(t, err)
	if rec.Content != "192.0.2.1" || !dns.OwnedBy(rec.Comment, owner("alpha", ns, "first")) {
		t.Fatalf("winner's record changed: %+v", rec)
	}
	if n := cf.Count(http.MethodPost, "") - posts; n != 0 {
		t.Fatalf("the loser created %d records", n)
	}

	// A CNAME claim at the same name conflicts too (a CNAME shares its name with nothing).
	alias := domainManager(ns, "alias", name, "CNAME", "elsewhere.example.net")
	fleettest.Must(t, b.Create(ctx, alias))
	waitReason(t, "beta", ns, "alias", v1alpha1.ReasonConflict)

	// The winner goes: its record is deleted and the waiting claimant takes
	// over. (Among several waiters the first to be reconciled after the
	// release wins; nothing orders them, so only one waits here.)
	fleettest.Must(t, b.Delete(ctx, alias))
	waitGone(t, "beta", alias)
	fleettest.Must(t, a.Delete(ctx, first))
	waitGone(t, "alpha", first)
	waitReason(t, "beta", ns, "second", v1alpha1.ReasonRecordSynced)
	eventually(t, func() error {
		rec, err := only(name, "A")
		if err != nil {
			return err
		}
		if rec.Content != "192.0.2.2" || !dns.OwnedBy(rec.Comment, owner("beta", ns, "second")) {
			return fmt.Errorf("not taken over: %+v", rec)
		}
		return nil
	})
	// A CNAME claim now conflicts with the new holder.
	alias = domainManager(ns, "alias", name, "CNAME", "elsewhere.example.net")
	fleettest.Must(t, b.Create(ctx, alias))
	waitReason(t, "beta", ns, "alias", v1alpha1.ReasonConflict)
	if n := len(cf.Find(name, "")); n != 1 {
		t.Fatalf("%d records at %s", n, name)
	}
}

func TestUnmanagedRecordUntouchedAndAdopt(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "alpha")
	c := fleet.Members["alpha"].Client

	hand := cf.Seed("example.com", cloudflaretest.Record{Name: "byhand.example.com", Type: "A", Content: "203.0.113.5", TTL: 300, Comment: "made by the web team"})
	dm := domainManager(ns, "byhand", "byhand.example.com", "A", "192.0.2.5")
	fleettest.Must(t, c.Create(ctx, dm))
	got := waitReason(t, "alpha", ns, "byhand", v1alpha1.ReasonRecordExistsUnmanaged)
	if m := ready(got).Message; !strings.Contains(m, hand.ID) || !strings.Contains(m, v1alpha1.AnnotationDNSAdopt) {
		t.Errorf("message = %q", m)
	}
	// Deleting the DomainManager leaves the record alone too.
	fleettest.Must(t, c.Delete(ctx, got))
	waitGone(t, "alpha", got)
	if now, err := only("byhand.example.com", "A"); err != nil || now.Content != hand.Content || now.Comment != hand.Comment || !now.Modified.Equal(hand.Modified) {
		t.Fatalf("unmanaged record touched: %+v, %v", now, err)
	}

	// Opt-in adoption where the policy allows it: the record is taken over and rewritten.
	setPolicy(t, `
members:
  alpha: {allowedSuffixes: [example.com], adopt: true}
`)
	old := cf.Seed("example.com", cloudflaretest.Record{Name: "adopt.example.com", Type: "A", Content: "203.0.113.6", Comment: "legacy"})
	adopt := domainManager(ns, "adopt", "adopt.example.com", "A", "192.0.2.6", func(d *v1alpha1.DomainManager) {
		d.Annotations = map[string]string{v1alpha1.AnnotationDNSAdopt: "true"}
	})
	fleettest.Must(t, c.Create(ctx, adopt))
	st := waitReason(t, "alpha", ns, "adopt", v1alpha1.ReasonRecordSynced)
	rec, err := only("adopt.example.com", "A")
	fleettest.Must(t, err)
	if rec.ID != old.ID || rec.Content != "192.0.2.6" || !dns.OwnedBy(rec.Comment, owner("alpha", ns, "adopt")) || st.Status.RecordID != old.ID {
		t.Fatalf("adopted record = %+v, status %+v", rec, st.Status)
	}
}

func TestCredentialsMissingAddedAndRotated(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "alpha", "beta")
	t.Cleanup(func() {
		cf.SetTokens(token1)
		_ = putCredentials(ctx, token1)
	})

	// No Secret: every DomainManager says so, nothing crashes.
	fleettest.Must(t, fleet.Hub.Client.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: credsSecret, Namespace: fleettest.HubNamespace}}))
	fleettest.Must(t, fleet.Members["alpha"].Client.Create(ctx, domainManager(ns, "one", "creds-one.example.com", "A", "192.0.2.1")))
	fleettest.Must(t, fleet.Members["beta"].Client.Create(ctx, domainManager(ns, "two", "creds-two.example.org", "TXT", "hello")))
	dm := waitReason(t, "alpha", ns, "one", v1alpha1.ReasonCredentialsMissing)
	if m := ready(dm).Message; !strings.Contains(m, "does not exist") {
		t.Errorf("message = %q", m)
	}
	waitReason(t, "beta", ns, "two", v1alpha1.ReasonCredentialsMissing)

	// The Secret appears: records follow promptly (not after the slow retry).
	start := time.Now()
	fleettest.Must(t, putCredentials(ctx, token1))
	waitReason(t, "alpha", ns, "one", v1alpha1.ReasonRecordSynced)
	waitReason(t, "beta", ns, "two", v1alpha1.ReasonRecordSynced)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("credentials took %s to be picked up", d)
	}
	if _, err := only("creds-two.example.org", "TXT"); err != nil {
		t.Fatal(err)
	}

	// The token is revoked at Cloudflare: DomainManagers report it.
	cf.SetTokens("token-2")
	fleettest.Must(t, fleet.Members["alpha"].Client.Create(ctx, domainManager(ns, "three", "creds-three.example.com", "A", "192.0.2.3")))
	waitReason(t, "alpha", ns, "three", v1alpha1.ReasonCredentialsInvalid)
	// Rotation: the new token is used without a restart.
	fleettest.Must(t, putCredentials(ctx, "token-2"))
	waitReason(t, "alpha", ns, "three", v1alpha1.ReasonRecordSynced)
	waitReason(t, "alpha", ns, "one", v1alpha1.ReasonRecordSynced)
	if _, err := only("creds-three.example.com", "A"); err != nil {
		t.Fatal(err)
	}
}

func TestRateLimitStormNoDuplicatesNoHotLoop(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "alpha", "beta")
	storm := cf.Inject(cloudflaretest.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second})
	defer storm.Remove()
	before := cf.Total()

	var names []string
	for i := range 6 {
		member := []string{"alpha", "beta"}[i%2]
		name := fmt.Sprintf("storm-%d", i)
		names = append(names, member+"/"+name)
		fleettest.Must(t, fleet.Members[member].Client.Create(ctx, domainManager(ns, name, name+".example.org", "A", fmt.Sprintf("192.0.2.%d", 10+i))))
	}
	waitReason(t, "alpha", ns, "storm-0", v1alpha1.ReasonRateLimited)
	waitReason(t, "beta", ns, "storm-1", v1alpha1.ReasonRateLimited)
	reconciles := reconcileCount(t)
	window := 4 * time.Second
	time.Sleep(window)
	// One budget for the hub: during the cooldown no request is sent, so six
	// DomainManagers over ~5s cost a handful of requests, not hundreds.
	n := cf.Total() - before
	t.Logf("%d requests to Cloudflare during the storm", n)
	if n > 10 {
		t.Fatalf("%d requests during a 429 storm: a hot loop\n%s", n, cf.SortedCalls())
	}
	// And no hot loop in the controller either: every DomainManager in the
	// fleet (all are rate-limited now) waits the rate-limit backoff between
	// reconciles instead of retrying with a short error backoff.
	all := 0
	for _, m := range []string{"alpha", "beta"} {
		list := &v1alpha1.DomainManagerList{}
		fleettest.Must(t, fleet.Members[m].Client.List(ctx, list))
		all += len(list.Items)
	}
	perDM := window / cfg.DNS.RateLimitBackoff
	if r := reconcileCount(t) - reconciles; r > all*int(perDM+2) {
		t.Fatalf("%d reconciles of %d DomainManagers in %s: a hot loop", r, all, window)
	} else {
		t.Logf("%d reconciles of %d DomainManagers in %s", r, all, window)
	}
	storm.Remove()
	for _, n := range names {
		member, name, _ := strings.Cut(n, "/")
		waitReason(t, member, ns, name, v1alpha1.ReasonRecordSynced)
	}
	for i := range 6 {
		if _, err := only(fmt.Sprintf("storm-%d.example.org", i), "A"); err != nil {
			t.Fatal(err)
		}
	}
}

// reconcileCount is controller-runtime's count of DomainManager reconciles.
func reconcileCount(t *testing.T) int {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	fleettest.Must(t, err)
	n := 0.0
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == "domainmanager" {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return int(n)
}

func TestTimedOutCreateIsNotDuplicated(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "beta")
	// Cloudflare creates the record but the answer comes after the hub gave up.
	lost := cf.Inject(cloudflaretest.Fault{Method: http.MethodPost, AfterApply: true, Latency: 1500 * time.Millisecond, Times: 1})
	defer lost.Remove()
	posts := cf.Count(http.MethodPost, "")
	fleettest.Must(t, fleet.Members["beta"].Client.Create(ctx, domainManager(ns, "slow", "slow.example.com", "A", "192.0.2.7")))
	dm := waitReason(t, "beta", ns, "slow", v1alpha1.ReasonRecordSynced)
	if lost.Hits() != 1 {
		t.Fatalf("the fault was not hit: %d", lost.Hits())
	}
	rec, err := only("slow.example.com", "A")
	fleettest.Must(t, err)
	if dm.Status.RecordID != rec.ID {
		t.Fatalf("status %+v does not name the record %s", dm.Status, rec.ID)
	}
	if n := cf.Count(http.MethodPost, "") - posts; n != 1 {
		t.Fatalf("%d creates for one record", n)
	}
}

func TestServerErrorsDuringDeleteKeepFinalizer(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "alpha")
	c := fleet.Members["alpha"].Client
	fleettest.Must(t, c.Create(ctx, domainManager(ns, "gone", "del5xx.example.com", "A", "192.0.2.8")))
	dm := waitReason(t, "alpha", ns, "gone", v1alpha1.ReasonRecordSynced)

	fail := cf.Inject(cloudflaretest.Fault{Method: http.MethodDelete, Status: http.StatusInternalServerError})
	defer fail.Remove()
	fleettest.Must(t, c.Delete(ctx, dm))
	blocked := waitReason(t, "alpha", ns, "gone", v1alpha1.ReasonDeletionBlocked)
	if len(blocked.Finalizers) != 1 || blocked.DeletionTimestamp.IsZero() || !strings.Contains(ready(blocked).Message, v1alpha1.ReasonProviderError) {
		t.Fatalf("while Cloudflare fails: finalizers %v, ready %+v", blocked.Finalizers, ready(blocked))
	}
	if _, err := only("del5xx.example.com", "A"); err != nil {
		t.Fatal(err)
	}
	fail.Remove()
	waitGone(t, "alpha", dm)
	if n := len(cf.Find("del5xx.example.com", "")); n != 0 {
		t.Fatalf("%d records left", n)
	}

	// An admin abandons a record on purpose: deletion policy Orphan. It
	// works even while Cloudflare fails, and the record stays.
	fleettest.Must(t, c.Create(ctx, domainManager(ns, "keep", "orphan.example.com", "A", "192.0.2.9")))
	keep := waitReason(t, "alpha", ns, "keep", v1alpha1.ReasonRecordSynced)
	fail = cf.Inject(cloudflaretest.Fault{Status: http.StatusInternalServerError})
	defer fail.Remove()
	keep.Annotations = map[string]string{v1alpha1.AnnotationDNSDeletionPolicy: v1alpha1.DNSDeletionPolicyOrphan}
	fleettest.Must(t, c.Update(ctx, keep))
	fleettest.Must(t, c.Delete(ctx, keep))
	waitGone(t, "alpha", keep)
	fail.Remove()
	rec, err := only("orphan.example.com", "A")
	fleettest.Must(t, err)
	if !dns.OwnedBy(rec.Comment, owner("alpha", ns, "keep")) {
		t.Fatalf("orphaned record lost its marker: %+v", rec)
	}
}

func TestSteadyStateCostsOneListPerZoneAndNoWrites(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "alpha", "beta")
	zone := cf.ZoneID("dev.example.com")
	for _, m := range []string{"alpha", "beta"} {
		for i := range 4 {
			name := fmt.Sprintf("%s-%d", m, i)
			fleettest.Must(t, fleet.Members[m].Client.Create(ctx, domainManager(ns, name, name+".steady.dev.example.com", "TXT", "v="+name)))
		}
	}
	for _, m := range []string{"alpha", "beta"} {
		for i := range 4 {
			waitReason(t, m, ns, fmt.Sprintf("%s-%d", m, i), v1alpha1.ReasonRecordSynced)
		}
	}
	time.Sleep(time.Second)

	members := fleet.Requests.Snapshot()
	writes := cf.Writes()
	lists := cf.Count(http.MethodGet, "/zones/"+zone+"/dns_records")
	zoneLists := cf.Calls()["GET "+cloudflaretest.BasePath+"/zones"]
	resync := cfg.ResyncInterval
	intervals := 3
	time.Sleep(time.Duration(intervals)*resync + resync/2)

	// Every DomainManager in this fleet (also those left by earlier tests,
	// in conflict, refused by policy or blocked by an unmanaged record) is
	// converged: no write anywhere.
	if n := cf.Writes() - writes; n != 0 {
		t.Errorf("%d writes to Cloudflare in steady state\n%s", n, cf.SortedCalls())
	}
	for _, m := range []string{"alpha", "beta"} {
		var w []string
		for _, req := range fleet.Requests.Writes(members, m) {
			// The event broadcaster flushes the series of an Event emitted
			// twice by an earlier test (another namespace) up to seconds
			// later; that is not a write of this steady state.
			if strings.Contains(req, "/apis/events.k8s.io/") && !strings.Contains(req, "/namespaces/"+ns+"/") {
				continue
			}
			w = append(w, req)
		}
		if len(w) > 0 {
			t.Errorf("member %s got writes in steady state: %v", m, w)
		}
	}
	// At most one (single-page) list of the zone per interval, for eight
	// DomainManagers resyncing every interval.
	if n := cf.Count(http.MethodGet, "/zones/"+zone+"/dns_records") - lists; n > intervals+1 {
		t.Errorf("%d lists of the zone in %d intervals", n, intervals)
	}
	// Zone ids are cached: no zone list at all.
	if n := cf.Calls()["GET "+cloudflaretest.BasePath+"/zones"] - zoneLists; n != 0 {
		t.Errorf("%d zone lists in steady state", n)
	}
}

func TestSchemaRejectsBadSpecs(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "alpha")
	c := fleet.Members["alpha"].Client
	cases := map[string]struct {
		mut  func(*v1alpha1.DomainManager)
		want string
	}{
		"single label":      {func(d *v1alpha1.DomainManager) { d.Spec.DomainName = "localhost" }, "fully qualified hostname"},
		"trailing dot":      {func(d *v1alpha1.DomainManager) { d.Spec.DomainName = "www.example.com." }, "fully qualified hostname"},
		"label too long":    {func(d *v1alpha1.DomainManager) { d.Spec.DomainName = strings.Repeat("a", 64) + ".example.com" }, "fully qualified hostname"},
		"name too long":     {func(d *v1alpha1.DomainManager) { d.Spec.DomainName = strings.Repeat("abcdefghi.", 26) + "com" }, "spec.domainName"},
		"bad type":          {func(d *v1alpha1.DomainManager) { d.Spec.RecordType = "MX" }, "spec.recordType"},
		"A with IPv6":       {func(d *v1alpha1.DomainManager) { d.Spec.Value = "2001:db8::1" }, "IPv4"},
		"A with garbage":    {func(d *v1alpha1.DomainManager) { d.Spec.Value = "300.1.1.1" }, "IPv4"},
		"AAAA with IPv4":    {func(d *v1alpha1.DomainManager) { d.Spec.RecordType = "AAAA" }, "IPv6"},
		"CNAME not a host":  {func(d *v1alpha1.DomainManager) { d.Spec.RecordType = "CNAME"; d.Spec.Value = "not a host" }, "must be a hostname"},
		"CNAME to itself":   {func(d *v1alpha1.DomainManager) { d.Spec.RecordType = "CNAME"; d.Spec.Value = "WWW.example.com." }, "must not point to itself"},
		"ttl too low":       {func(d *v1alpha1.DomainManager) { d.Spec.TTL = 30 }, "ttl must be 1"},
		"ttl too high":      {func(d *v1alpha1.DomainManager) { d.Spec.TTL = 90000 }, "ttl must be 1"},
		"proxied TXT":       {func(d *v1alpha1.DomainManager) { d.Spec.RecordType = "TXT"; d.Spec.Value = "x"; d.Spec.Proxied = true }, "only A, AAAA and CNAME"},
		"proxied with ttl":  {func(d *v1alpha1.DomainManager) { d.Spec.Proxied = true; d.Spec.TTL = 300 }, "proxied record must have ttl 1"},
		"outside zone":      {func(d *v1alpha1.DomainManager) { d.Spec.Zone = "example.org" }, "domainName must be inside zone"},
		"bad zone":          {func(d *v1alpha1.DomainManager) { d.Spec.Zone = "example.com." }, "zone must be a domain name"},
		"empty value":       {func(d *v1alpha1.DomainManager) { d.Spec.RecordType = "TXT"; d.Spec.Value = "" }, "spec.value"},
		"TXT value too big": {func(d *v1alpha1.DomainManager) { d.Spec.RecordType = "TXT"; d.Spec.Value = strings.Repeat("x", 2049) }, "spec.value"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dm := domainManager(ns, "bad", "www.example.com", "A", "192.0.2.1", tc.mut)
			err := c.Create(ctx, dm)
			if err == nil {
				_ = c.Delete(ctx, dm)
				t.Fatal("apiserver accepted the spec")
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an Invalid error mentioning %q, got: %v", tc.want, err)
			}
		})
	}
	// Valid edge cases pass: wildcard, underscore TXT, apex with zone, ttl default 1.
	for i, d := range []*v1alpha1.DomainManager{
		domainManager(ns, "ok-0", "*.wild.example.com", "A", "192.0.2.1"),
		domainManager(ns, "ok-1", "_acme-challenge.example.com", "TXT", "token"),
		domainManager(ns, "ok-2", "example.org", "TXT", "v=spf1 -all", func(d *v1alpha1.DomainManager) { d.Spec.Zone = "Example.org" }),
		domainManager(ns, "ok-3", "cname.example.com", "CNAME", "target.example.net.", func(d *v1alpha1.DomainManager) { d.Spec.Proxied = true }),
	} {
		fleettest.Must(t, c.Create(ctx, d))
		if got := get(t, "alpha", ns, d.Name); got.Spec.TTL != 1 {
			t.Errorf("case %d: ttl defaulted to %d", i, got.Spec.TTL)
		}
	}
}

// Runs last: it unregisters and re-registers beta.
func TestRemovedMemberTakesItsClaimsButNotItsRecords(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "alpha", "beta")
	const name = "member-gone.example.com"
	fleettest.Must(t, fleet.Members["beta"].Client.Create(ctx, domainManager(ns, "holder", name, "A", "192.0.2.20")))
	waitReason(t, "beta", ns, "holder", v1alpha1.ReasonRecordSynced)
	time.Sleep(1100 * time.Millisecond)
	fleettest.Must(t, fleet.Members["alpha"].Client.Create(ctx, domainManager(ns, "waiter", name, "A", "192.0.2.21")))
	dm := waitReason(t, "alpha", ns, "waiter", v1alpha1.ReasonConflict)
	if m := ready(dm).Message; !strings.Contains(m, "claimed by DomainManager "+ns+"/holder in cluster beta") {
		t.Fatalf("message = %q", m)
	}

	// beta leaves: the hub keeps its claim through the grace period, alpha
	// is re-checked at once and says when the claim passes on; beta's
	// record is not touched.
	fleettest.Must(t, fleet.Unregister(ctx, "beta"))
	eventually(t, func() error {
		dm := get(t, "alpha", ns, "waiter")
		if r := ready(dm); r == nil || r.Reason != v1alpha1.ReasonConflict || !strings.Contains(r.Message, "unregistered since") {
			return fmt.Errorf("ready = %+v", r)
		}
		if !meta.IsStatusConditionTrue(dm.Status.Conditions, v1alpha1.ConditionReconciling) {
			return fmt.Errorf("waiting out the grace period is not Reconciling: %+v", dm.Status.Conditions)
		}
		return nil
	})
	rec, err := only(name, "A")
	fleettest.Must(t, err)
	if rec.Content != "192.0.2.20" || !dns.OwnedBy(rec.Comment, owner("beta", ns, "holder")) {
		t.Fatalf("a removed member's record was touched: %+v", rec)
	}

	// beta comes back: its claim stands as before.
	fleettest.Must(t, fleet.Register(ctx, "beta"))
	fleettest.Must(t, mgr.WaitEngaged(ctx, "beta"))
	eventually(t, func() error {
		dm := get(t, "alpha", ns, "waiter")
		if r := ready(dm); r == nil || !strings.Contains(r.Message, "claimed by DomainManager "+ns+"/holder in cluster beta") || strings.Contains(r.Message, "unregistered") {
			return fmt.Errorf("ready = %+v", r)
		}
		return nil
	})
}

// A zone the token may not edit fails only its own DomainManagers, with a
// reason that says so; another zone keeps writing.
func TestZoneWithoutPermissionFailsAlone(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "alpha")
	c := fleet.Members["alpha"].Client
	cf.DenyZoneWrites("locked.example.org") // a zone of its own, made in TestMain

	fleettest.Must(t, c.Create(ctx, domainManager(ns, "locked", "www.locked.example.org", "A", "192.0.2.40")))
	fleettest.Must(t, c.Create(ctx, domainManager(ns, "open", "open.example.org", "A", "192.0.2.41")))
	dm := waitReason(t, "alpha", ns, "locked", v1alpha1.ReasonZoneForbidden)
	if m := ready(dm).Message; !strings.Contains(m, "may not edit this zone") {
		t.Errorf("message = %q", m)
	}
	waitReason(t, "alpha", ns, "open", v1alpha1.ReasonRecordSynced)
	if n := len(cf.Find("www.locked.example.org", "")); n != 0 {
		t.Errorf("%d records in the locked zone", n)
	}
}
