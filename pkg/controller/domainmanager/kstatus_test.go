package domainmanager

import (
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/dns"
	"github.com/fleethub/fleethub/pkg/reconciler"
	"github.com/fleethub/fleethub/pkg/reconciler/reconcilertest"
)

// kstatus (Flux, Argo CD-style health checks, kubectl tooling) must read
// every DomainManager state as the right verdict: Failed for what only
// someone else can fix, InProgress while it gets there by itself, Current
// when the record is in place. Terminal outcomes are also the ones that
// return a reconcile.TerminalError.
func TestKStatusVerdicts(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	holder := &dns.Claim{Holder: dns.Holder{Identity: "a", Cluster: "alpha", Namespace: "shop", Name: "first"}, FQDN: "www.example.com", Type: "A"}
	missing := *holder
	missing.HolderMissingSince = time.Unix(50, 0)
	rec := &dns.Record{ID: "r1", Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 1}
	blocker := &dns.Record{ID: "r9", Name: "www.example.com", Type: "A"}
	tests := []struct {
		name     string
		obs      statusInput
		progress reconciler.Progress
		verdict  status.Status
		terminal bool
	}{
		{"synced", statusInput{Outcome: outcomeSynced, Record: rec, WroteZone: true, Zone: dns.Zone{ID: "z", Name: "example.com"}}, reconciler.Done, status.CurrentStatus, false},
		{"conflict", statusInput{Outcome: outcomeClaimConflict, Winner: holder}, reconciler.Stalled, status.FailedStatus, true},
		{"conflict, holder's member unregistered", statusInput{Outcome: outcomeClaimConflict, Winner: &missing, RetryAfter: time.Hour}, reconciler.Reconciling, status.InProgressStatus, false},
		{"foreign marker", statusInput{Outcome: outcomeForeign, Blocker: &dns.Record{ID: "r8", Name: "www.example.com", Type: "A", Comment: dns.Marker(dns.Owner{Hub: "h", Cluster: "c", Namespace: "n", Name: "x"})}}, reconciler.Stalled, status.FailedStatus, true},
		{"domain not allowed", statusInput{Outcome: outcomeNotAllowed, Refusal: errors.New("outside")}, reconciler.Stalled, status.FailedStatus, true},
		{"record exists unmanaged", statusInput{Outcome: outcomeUnmanaged, Blocker: blocker}, reconciler.Stalled, status.FailedStatus, true},
		{"invalid spec", statusInput{Outcome: outcomeInvalid, Invalid: errors.New("bad")}, reconciler.Stalled, status.FailedStatus, true},
		{"provider 5xx", statusInput{Outcome: outcomeProviderError, Err: dns.Errorf(dns.KindTransient, "create_record", "HTTP 502")}, reconciler.Reconciling, status.InProgressStatus, false},
		{"rate limited", statusInput{Outcome: outcomeProviderError, Err: &dns.Error{Kind: dns.KindRateLimited}}, reconciler.Reconciling, status.InProgressStatus, false},
		{"credentials rejected", statusInput{Outcome: outcomeProviderError, Err: dns.Errorf(dns.KindAuth, "list", "no")}, reconciler.Stalled, status.FailedStatus, false},
		{"deletion blocked", statusInput{Outcome: outcomeProviderError, Deleting: true, Err: dns.Errorf(dns.KindTransient, "delete_record", "HTTP 500")}, reconciler.Reconciling, status.InProgressStatus, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dm := testDM()
			dm.Status = computeStatus(dm, tc.obs, metav1.NewTime(time.Unix(100, 0)))
			if got := reconciler.ProgressOf(dm.Status.Conditions); got != tc.progress {
				t.Errorf("progress = %v, want %v (conditions %+v)", got, tc.progress, dm.Status.Conditions)
			}
			if got := reconcilertest.KStatus(t, scheme, dm); got.Status != tc.verdict {
				t.Errorf("kstatus = %s (%s), want %s", got.Status, got.Message, tc.verdict)
			}
			r := &Reconciler{ResyncInterval: time.Minute, RateLimitBackoff: time.Minute, SlowRetry: time.Minute, notify: newNotifier()}
			res, err := r.result(dns.ClaimKey{Cluster: "c", Namespace: "shop", Name: "www"}, dm, tc.obs)
			if got := reconciler.IsTerminal(err); got != tc.terminal {
				t.Errorf("terminal = %v (%v), want %v", got, err, tc.terminal)
			}
			if tc.terminal && (res.RequeueAfter != 0 || len(r.notify.pending) != 1) {
				t.Errorf("a terminal outcome must wait for a change or one resync re-check: %+v, pending %v", res, r.notify.pending)
			}
		})
	}
}
