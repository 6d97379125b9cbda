package domainmanager

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/dns"
)

func testDM() *v1alpha1.DomainManager {
	return &v1alpha1.DomainManager{
		ObjectMeta: metav1.ObjectMeta{Name: "www", Namespace: "shop", Generation: 3},
		Spec:       v1alpha1.DomainManagerSpec{DomainName: "www.example.com", RecordType: "A", Value: "192.0.2.1", TTL: 1},
	}
}

func TestComputeStatusReasons(t *testing.T) {
	zone := dns.Zone{ID: "z1", Name: "example.com"}
	rec := &dns.Record{ID: "r1", Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 1}
	winner := &dns.Claim{Holder: dns.Holder{Identity: "uid-a", Cluster: "alpha", Namespace: "shop", Name: "first"}, FQDN: "www.example.com", Type: "A", Object: "dns-claim-1-a"}
	unmanaged := &dns.Record{ID: "r9", Name: "www.example.com", Type: "A", Content: "192.0.2.9"}
	foreign := &dns.Record{ID: "r8", Name: "www.example.com", Type: "A", Comment: dns.Marker(dns.Owner{Hub: "h", Cluster: "beta", Namespace: "x", Name: "y"})}
	cname := &dns.Record{ID: "r7", Name: "www.example.com", Type: "CNAME"}
	cases := []struct {
		name   string
		obs    statusInput
		status metav1.ConditionStatus
		reason string
		msg    string
	}{
		{"synced", statusInput{FQDN: "www.example.com", Outcome: outcomeSynced, Zone: zone, WroteZone: true, Record: rec}, metav1.ConditionTrue, v1alpha1.ReasonRecordSynced, "A www.example.com → 192.0.2.1 is in place in zone example.com"},
		{"invalid", statusInput{Outcome: outcomeInvalid, Invalid: errors.New("bad ttl")}, metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec, "bad ttl"},
		{"not allowed", statusInput{Cluster: "beta", FQDN: "www.example.com", Outcome: outcomeNotAllowed, Refusal: errors.New("www.example.com is outside the allowed suffixes (team.example.org)"), PolicySource: "ConfigMap fleethub-system/p members.beta"},
			metav1.ConditionFalse, v1alpha1.ReasonDomainNotAllowed, "Cluster beta may not claim www.example.com: www.example.com is outside the allowed suffixes (team.example.org) (policy: ConfigMap fleethub-system/p members.beta)"},
		{"claim conflict", statusInput{FQDN: "www.example.com", Outcome: outcomeClaimConflict, Winner: winner}, metav1.ConditionFalse, v1alpha1.ReasonConflict, "claimed by DomainManager shop/first in cluster alpha (type A): the hub holds that claim (dns-claim-1-a)"},
		{"under another's name", statusInput{FQDN: "_acme-challenge.www.example.com", Outcome: outcomeClaimConflict, Winner: winner, Under: "www.example.com"}, metav1.ConditionFalse, v1alpha1.ReasonConflict, "belongs to the holder of www.example.com"},
		{"adoption refused", statusInput{Outcome: outcomeUnmanaged, Blocker: unmanaged, AdoptRefused: true}, metav1.ConditionFalse, v1alpha1.ReasonRecordExistsUnmanaged, "does not allow this member to adopt"},
		{"foreign marker", statusInput{Outcome: outcomeForeign, Blocker: foreign}, metav1.ConditionFalse, v1alpha1.ReasonConflict, "belongs to DomainManager x/y in cluster beta (hub h)"},
		{"unmanaged", statusInput{Outcome: outcomeUnmanaged, Blocker: unmanaged}, metav1.ConditionFalse, v1alpha1.ReasonRecordExistsUnmanaged, v1alpha1.AnnotationDNSAdopt + "=true"},
		{"unmanaged CNAME", statusInput{Outcome: outcomeUnmanaged, Blocker: cname}, metav1.ConditionFalse, v1alpha1.ReasonRecordExistsUnmanaged, "remove it by hand"},
		{"no credentials", statusInput{Outcome: outcomeProviderError, Err: dns.Errorf(dns.KindCredentialsMissing, "list", "the DNS credentials Secret does not exist")}, metav1.ConditionFalse, v1alpha1.ReasonCredentialsMissing, "Secret does not exist"},
		{"bad credentials", statusInput{Outcome: outcomeProviderError, Err: dns.Errorf(dns.KindAuth, "list", "Authentication error (10000)")}, metav1.ConditionFalse, v1alpha1.ReasonCredentialsInvalid, "rejected"},
		{"zone not permitted", statusInput{Outcome: outcomeProviderError, Err: dns.Errorf(dns.KindForbidden, "create", "no permission for this zone")}, metav1.ConditionFalse, v1alpha1.ReasonZoneForbidden, "may not edit this zone"},
		{"rate limited", statusInput{Outcome: outcomeProviderError, Err: &dns.Error{Kind: dns.KindRateLimited, RetryAfter: 37 * time.Second}}, metav1.ConditionFalse, v1alpha1.ReasonRateLimited, "rate-limiting"},
		{"5xx", statusInput{Outcome: outcomeProviderError, Err: dns.Errorf(dns.KindTransient, "create_record", "HTTP 502")}, metav1.ConditionFalse, v1alpha1.ReasonProviderError, "HTTP 502"},
		{"zone", statusInput{Outcome: outcomeProviderError, Err: dns.Errorf(dns.KindNotFound, dns.OpListZones, "no zone contains x")}, metav1.ConditionFalse, v1alpha1.ReasonZoneNotFound, "no zone contains x"},
		{"rejected", statusInput{Outcome: outcomeProviderError, Err: dns.Errorf(dns.KindInvalid, "create_record", "ttl")}, metav1.ConditionFalse, v1alpha1.ReasonRecordRejected, "refused"},
		{"deletion blocked", statusInput{FQDN: "www.example.com", Outcome: outcomeProviderError, Deleting: true, Err: dns.Errorf(dns.KindTransient, "delete_record", "HTTP 500")}, metav1.ConditionFalse, v1alpha1.ReasonDeletionBlocked, "ProviderError"},
	}
	now := metav1.NewTime(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := computeStatus(testDM(), c.obs, now)
			r := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady)
			if r == nil || r.Status != c.status || r.Reason != c.reason || !strings.Contains(r.Message, c.msg) {
				t.Fatalf("Ready = %+v, want %s/%s containing %q", r, c.status, c.reason, c.msg)
			}
			if r.ObservedGeneration != 3 || st.ObservedGeneration != 3 {
				t.Errorf("observedGeneration not set: %d %d", r.ObservedGeneration, st.ObservedGeneration)
			}
		})
	}
}

func TestComputeStatusIsStableWhenNothingChanged(t *testing.T) {
	dm := testDM()
	zone := dns.Zone{ID: "z1", Name: "example.com"}
	rec := &dns.Record{ID: "r1"}
	t0 := metav1.NewTime(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	first := computeStatus(dm, statusInput{FQDN: "www.example.com", Outcome: outcomeSynced, Zone: zone, WroteZone: true, Record: rec, Wrote: true}, t0)
	if first.RecordID != "r1" || first.ZoneID != "z1" || first.Zone != "example.com" || first.FQDN != "www.example.com" || !first.LastSyncTime.Equal(&t0) {
		t.Fatalf("first = %+v", first)
	}
	dm.Status = first
	// A later resync that finds everything in place changes nothing at all.
	t1 := metav1.NewTime(t0.Add(time.Hour))
	again := computeStatus(dm, statusInput{FQDN: "www.example.com", Outcome: outcomeSynced, Zone: zone, WroteZone: true, Record: rec}, t1)
	if !equality.Semantic.DeepEqual(first, again) {
		t.Fatalf("status changed on a no-op resync:\n%+v\n%+v", first, again)
	}
	// The same transient error twice is one write, not two.
	e1 := computeStatus(dm, statusInput{Outcome: outcomeProviderError, KeepRecordID: true, Err: &dns.Error{Kind: dns.KindRateLimited, RetryAfter: 61 * time.Second}}, t1)
	dm.Status = e1
	e2 := computeStatus(dm, statusInput{Outcome: outcomeProviderError, KeepRecordID: true, Err: &dns.Error{Kind: dns.KindRateLimited, RetryAfter: 12 * time.Second}}, metav1.NewTime(t1.Add(time.Minute)))
	if !equality.Semantic.DeepEqual(e1, e2) {
		t.Fatalf("retries rewrite status:\n%+v\n%+v", e1, e2)
	}
	if e1.RecordID != "r1" || e1.ZoneID != "z1" {
		t.Fatalf("a provider error lost what we own: %+v", e1)
	}
	// Losing the record (conflict) clears the record id but keeps the zone
	// (deletion still cleans up there).
	c := computeStatus(dm, statusInput{Outcome: outcomeClaimConflict, Winner: &dns.Claim{}}, t1)
	if c.RecordID != "" || c.ZoneID != "z1" {
		t.Fatalf("conflict status = %+v", c)
	}
}

func TestRetryPolicy(t *testing.T) {
	p := retryPolicy{Resync: 10 * time.Minute, RateLimited: time.Minute, Slow: 5 * time.Minute}
	cases := []struct {
		name    string
		err     error
		after   time.Duration
		wantErr bool
	}{
		{"ok", nil, 10 * time.Minute, false},
		{"429 without Retry-After waits at least 60s", &dns.Error{Kind: dns.KindRateLimited}, time.Minute, false},
		{"429 with a short Retry-After still waits 60s", &dns.Error{Kind: dns.KindRateLimited, RetryAfter: 5 * time.Second}, time.Minute, false},
		{"429 with a long Retry-After waits that long", &dns.Error{Kind: dns.KindRateLimited, RetryAfter: 5 * time.Minute}, 5 * time.Minute, false},
		{"auth is a slow retry", &dns.Error{Kind: dns.KindAuth}, 5 * time.Minute, false},
		{"a forbidden zone is a slow retry", &dns.Error{Kind: dns.KindForbidden}, 5 * time.Minute, false},
		{"missing credentials is a slow retry", &dns.Error{Kind: dns.KindCredentialsMissing}, 5 * time.Minute, false},
		{"rejected record waits for a spec change or resync", &dns.Error{Kind: dns.KindInvalid}, 10 * time.Minute, false},
		{"no zone waits for resync", &dns.Error{Kind: dns.KindNotFound, Op: dns.OpListZones}, 10 * time.Minute, false},
		{"5xx backs off", &dns.Error{Kind: dns.KindTransient}, 0, true},
		{"stale cache conflict backs off", &dns.Error{Kind: dns.KindConflict}, 0, true},
		{"vanished record backs off", &dns.Error{Kind: dns.KindNotFound, Op: dns.OpUpdateRecord}, 0, true},
		{"unknown backs off", errors.New("hub cache"), 0, true},
	}
	for _, c := range cases {
		res, err := p.result(c.err)
		if res.RequeueAfter != c.after || (err != nil) != c.wantErr {
			t.Errorf("%s: result %+v err %v; want after %s err %v", c.name, res, err, c.after, c.wantErr)
		}
	}
}
