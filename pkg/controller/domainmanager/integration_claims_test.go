package domainmanager_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/cmd/manager/app/fleettest"
	"github.com/fleethub/fleethub/pkg/controller/domainmanager"
	"github.com/fleethub/fleethub/pkg/dns"
	"github.com/fleethub/fleethub/providers/dns/cloudflare/cloudflaretest"
)

// policyName is the hub DNS policy ConfigMap (the flag's default).
const policyName = "fleethub-dns-policy"

// defaultPolicy keeps the suffixes the suite's other DomainManagers use, so
// a test's policy does not flip them all to DomainNotAllowed.
const defaultPolicy = "default: {allowedSuffixes: [example.com, example.org, bench.example]}\n"

// setPolicy writes the hub DNS policy (the default plus members) for one test.
func setPolicy(t *testing.T, members string) {
	t.Helper()
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: policyName, Namespace: fleettest.HubNamespace}}
	err := fleet.Hub.Client.Get(ctx, client.ObjectKeyFromObject(cm), cm)
	cm.Data = map[string]string{domainmanager.PolicyKey: defaultPolicy + strings.TrimPrefix(members, "\n")}
	if apierrors.IsNotFound(err) {
		fleettest.Must(t, fleet.Hub.Client.Create(ctx, cm))
	} else {
		fleettest.Must(t, err)
		fleettest.Must(t, fleet.Hub.Client.Update(ctx, cm))
	}
	t.Cleanup(func() {
		_ = fleet.Hub.Client.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: policyName, Namespace: fleettest.HubNamespace}})
	})
}

// hubClaims are the claim ConfigMaps on the hub for name.
func hubClaims(t *testing.T, name string) []corev1.ConfigMap {
	t.Helper()
	list := &corev1.ConfigMapList{}
	fleettest.Must(t, fleet.Hub.Client.List(context.Background(), list, client.InNamespace(fleettest.HubNamespace), client.MatchingLabels{domainmanager.LabelDNSClaim: "true"}))
	var out []corev1.ConfigMap
	for _, cm := range list.Items {
		if cm.Data["name"] == name {
			out = append(out, cm)
		}
	}
	return out
}

// recordPatches counts PATCHes of one record at the fake Cloudflare.
func recordPatches(rec cloudflaretest.Record) int {
	return cf.Count(http.MethodPatch, "/zones/"+rec.ZoneID+"/dns_records/"+rec.ID)
}

// An older DomainManager in a member registered later (a DR cluster restored
// from a snapshot, a standby) does not take the name: the hub's claim, not
// the members' timestamps, decides. This also stands for a member whose
// apiserver reports skewed (old) timestamps.
func TestOlderDomainManagerRegisteredLaterDoesNotMoveTheRecord(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "alpha", "beta")
	const name = "dr-standby.example.com"

	fleettest.Must(t, fleet.Unregister(ctx, "beta"))
	eventually(t, func() error {
		if mgr.Provider.Members()["beta"] {
			return fmt.Errorf("beta still engaged")
		}
		return nil
	})
	t.Cleanup(func() {
		_ = fleet.Register(ctx, "beta")
		_ = mgr.WaitEngaged(ctx, "beta")
	})
	fleettest.Must(t, fleet.Members["beta"].Client.Create(ctx, domainManager(ns, "standby", name, "A", "192.0.2.31")))
	time.Sleep(1100 * time.Millisecond) // creationTimestamp has second granularity
	fleettest.Must(t, fleet.Members["alpha"].Client.Create(ctx, domainManager(ns, "live", name, "A", "192.0.2.30")))
	waitReason(t, "alpha", ns, "live", v1alpha1.ReasonRecordSynced)
	rec, err := only(name, "A")
	fleettest.Must(t, err)
	patches := recordPatches(rec)

	fleettest.Must(t, fleet.Register(ctx, "beta"))
	fleettest.Must(t, mgr.WaitEngaged(ctx, "beta"))
	dm := waitReason(t, "beta", ns, "standby", v1alpha1.ReasonConflict)
	if m := ready(dm).Message; !strings.Contains(m, ns+"/live in cluster alpha") {
		t.Fatalf("message = %q", m)
	}
	if !meta.IsStatusConditionTrue(dm.Status.Conditions, v1alpha1.ConditionStalled) {
		t.Errorf("Conflict is not Stalled: %+v", dm.Status.Conditions)
	}
	time.Sleep(2 * cfg.ResyncInterval)
	now, err := only(name, "A")
	fleettest.Must(t, err)
	if now.ID != rec.ID || now.Content != "192.0.2.30" || !dns.OwnedBy(now.Comment, owner("alpha", ns, "live")) || recordPatches(rec) != patches {
		t.Fatalf("the live record moved: %+v", now)
	}
	waitReason(t, "alpha", ns, "live", v1alpha1.ReasonRecordSynced)
	if cms := hubClaims(t, name); len(cms) != 1 || cms[0].Data["cluster"] != "alpha" || cms[0].Data["domainManager"] != "live" || cms[0].Data["recordID"] != rec.ID {
		t.Fatalf("hub claims = %+v", cms)
	}
}

// Widening a member's policy does not make its months-old inactive
// DomainManager the holder of a name another member holds.
func TestWideningPolicyDoesNotMoveTheRecord(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "alpha", "beta")
	const name = "widen.example.com"
	setPolicy(t, `
members:
  beta: {allowedSuffixes: [team-b.example.org]}
`)
	fleettest.Must(t, fleet.Members["beta"].Client.Create(ctx, domainManager(ns, "early", name, "A", "192.0.2.41")))
	waitReason(t, "beta", ns, "early", v1alpha1.ReasonDomainNotAllowed)
	time.Sleep(1100 * time.Millisecond)
	fleettest.Must(t, fleet.Members["alpha"].Client.Create(ctx, domainManager(ns, "holder", name, "A", "192.0.2.40")))
	waitReason(t, "alpha", ns, "holder", v1alpha1.ReasonRecordSynced)
	rec, err := only(name, "A")
	fleettest.Must(t, err)
	patches := recordPatches(rec)

	setPolicy(t, `
members:
  beta: {allowedSuffixes: [team-b.example.org, example.com]}
`)
	waitReason(t, "beta", ns, "early", v1alpha1.ReasonConflict)
	time.Sleep(2 * cfg.ResyncInterval)
	now, err := only(name, "A")
	fleettest.Must(t, err)
	if now.Content != "192.0.2.40" || !dns.OwnedBy(now.Comment, owner("alpha", ns, "holder")) || recordPatches(rec) != patches {
		t.Fatalf("the record moved after widening: %+v", now)
	}
}

// `_acme-challenge.<name>` belongs to the holder of <name>: another member
// cannot create it (enough for a CA to issue a certificate for the name),
// even with the underscore permission; the holder's member can, without it.
func TestACMEChallengeUnderAnotherMembersNameRefused(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "alpha", "beta")
	const name = "acme-target.example.com"
	const challenge = "_acme-challenge." + name
	setPolicy(t, `
members:
  beta: {allowedSuffixes: [example.com], underscore: true}
`)
	fleettest.Must(t, fleet.Members["alpha"].Client.Create(ctx, domainManager(ns, "site", name, "A", "192.0.2.50")))
	waitReason(t, "alpha", ns, "site", v1alpha1.ReasonRecordSynced)

	fleettest.Must(t, fleet.Members["beta"].Client.Create(ctx, domainManager(ns, "steal", challenge, "TXT", "attacker-token")))
	dm := waitReason(t, "beta", ns, "steal", v1alpha1.ReasonConflict)
	if m := ready(dm).Message; !strings.Contains(m, "belongs to the holder of "+name) {
		t.Fatalf("message = %q", m)
	}
	// Apex verification TXT and wildcards need their grants too.
	fleettest.Must(t, fleet.Members["alpha"].Client.Create(ctx, domainManager(ns, "verify", "_verify.example.com", "TXT", "x")))
	fleettest.Must(t, fleet.Members["alpha"].Client.Create(ctx, domainManager(ns, "wild", "*.acme-wild.example.com", "A", "192.0.2.51")))
	waitReason(t, "alpha", ns, "verify", v1alpha1.ReasonDomainNotAllowed)
	waitReason(t, "alpha", ns, "wild", v1alpha1.ReasonDomainNotAllowed)

	fleettest.Must(t, fleet.Members["alpha"].Client.Create(ctx, domainManager(ns, "challenge", challenge, "TXT", "owner-token")))
	waitReason(t, "alpha", ns, "challenge", v1alpha1.ReasonRecordSynced)
	recs := cf.Find(challenge, "TXT")
	if len(recs) != 1 || recs[0].Content != "owner-token" || !dns.OwnedBy(recs[0].Comment, owner("alpha", ns, "challenge")) {
		t.Fatalf("challenge records = %+v", recs)
	}
	if n := len(cf.Find("_verify.example.com", "")) + len(cf.Find("*.acme-wild.example.com", "")); n != 0 {
		t.Fatalf("%d records written without a grant", n)
	}
}

// Adoption of an unmanaged record needs the hub policy's permission for the
// member; the DomainManager's own annotation is not enough. An adopted record
// is left in place (unmanaged again) when its DomainManager is deleted.
func TestAdoptionWithoutPolicyRefused(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "beta")
	b := fleet.Members["beta"].Client
	hand := cf.Seed("example.com", cloudflaretest.Record{Name: "legacy-app.example.com", Type: "A", Content: "203.0.113.7", TTL: 300, Comment: "by the web team"})
	adopt := func(d *v1alpha1.DomainManager) {
		d.Annotations = map[string]string{v1alpha1.AnnotationDNSAdopt: "true"}
	}
	fleettest.Must(t, b.Create(ctx, domainManager(ns, "taker", "legacy-app.example.com", "A", "192.0.2.60", adopt)))
	dm := waitReason(t, "beta", ns, "taker", v1alpha1.ReasonRecordExistsUnmanaged)
	if m := ready(dm).Message; !strings.Contains(m, "does not allow this member to adopt") {
		t.Fatalf("message = %q", m)
	}
	time.Sleep(cfg.ResyncInterval)
	if now, err := only("legacy-app.example.com", "A"); err != nil || now.Content != hand.Content || now.Comment != hand.Comment || !now.Modified.Equal(hand.Modified) {
		t.Fatalf("unmanaged record touched: %+v, %v", now, err)
	}
	if cms := hubClaims(t, "legacy-app.example.com"); len(cms) != 0 {
		t.Fatalf("a refused adoption holds a claim: %+v", cms)
	}

	setPolicy(t, `
members:
  beta: {allowedSuffixes: [example.com], adopt: true}
`)
	dm = waitReason(t, "beta", ns, "taker", v1alpha1.ReasonRecordSynced)
	rec, err := only("legacy-app.example.com", "A")
	fleettest.Must(t, err)
	if rec.ID != hand.ID || rec.Content != "192.0.2.60" || !dns.OwnedBy(rec.Comment, owner("beta", ns, "taker")) {
		t.Fatalf("adopted = %+v", rec)
	}
	fleettest.Must(t, b.Delete(ctx, dm))
	waitGone(t, "beta", dm)
	rec, err = only("legacy-app.example.com", "A")
	fleettest.Must(t, err)
	if rec.ID != hand.ID || rec.Comment != hand.Comment || rec.Content != "192.0.2.60" {
		t.Fatalf("adopted record after deletion = %+v (want it left in place with its own comment)", rec)
	}
	if cms := hubClaims(t, "legacy-app.example.com"); len(cms) != 0 {
		t.Fatalf("claim left: %+v", cms)
	}
}

// A record created just before the status write failed (a crash, a lost
// answer) is found through the hub claim when the DomainManager is deleted:
// never orphaned.
func TestCrashBetweenCreateAndStatusWriteThenDeletion(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "alpha")
	a := fleet.Members["alpha"].Client
	// The member refuses every status write of DomainManagers named
	// status-crash*: the hub creates the record and cannot record it.
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "fail-dm-status-" + ns},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{"app.54b3r.io"}, APIVersions: []string{"v1alpha1"}, Resources: []string{"domainmanagers/status"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{Expression: "!object.metadata.name.startsWith('status-crash')", Message: "injected status failure"}},
		},
	}
	fleettest.Must(t, a.Create(ctx, policy))
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: policy.Name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: policy.Name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}},
	}
	fleettest.Must(t, a.Create(ctx, binding))
	t.Cleanup(func() {
		_ = a.Delete(ctx, binding)
		_ = a.Delete(ctx, policy)
	})
	// Wait until the member enforces it (a probe whose name is refused, and
	// which the hub leaves alone: no spec the hub may act on).
	probe := domainManager(ns, "status-crash-probe", "probe.example.net", "A", "192.0.2.1")
	fleettest.Must(t, a.Create(ctx, probe))
	eventually(t, func() error {
		cur := &v1alpha1.DomainManager{}
		if err := a.Get(ctx, client.ObjectKeyFromObject(probe), cur); err != nil {
			return err
		}
		cur.Status.FQDN = fmt.Sprint("probe-", time.Now().UnixNano())
		if err := a.Status().Update(ctx, cur); err == nil || !strings.Contains(err.Error(), "injected status failure") {
			return fmt.Errorf("status write not refused yet: %w", err)
		}
		return nil
	})

	const name = "status-crash.example.com"
	dm := domainManager(ns, "status-crash", name, "A", "192.0.2.70")
	fleettest.Must(t, a.Create(ctx, dm))
	eventually(t, func() error {
		_, err := only(name, "A")
		return err
	})
	cur := get(t, "alpha", ns, "status-crash")
	if cur.Status.ZoneID != "" || cur.Status.RecordID != "" {
		t.Fatalf("the status write was not refused: %+v", cur.Status)
	}
	rec, _ := only(name, "A")
	eventually(t, func() error {
		if cms := hubClaims(t, name); len(cms) != 1 || cms[0].Data["recordID"] != rec.ID || cms[0].Data["zoneID"] != rec.ZoneID {
			return fmt.Errorf("hub claims = %+v", cms)
		}
		return nil
	})
	if n := len(cf.Find(name, "")); n != 1 {
		t.Fatalf("%d records for one DomainManager whose status cannot be written", n)
	}

	fleettest.Must(t, a.Delete(ctx, cur))
	waitGone(t, "alpha", cur)
	if recs := cf.Find(name, ""); len(recs) != 0 {
		t.Fatalf("record orphaned: %+v", recs)
	}
	if cms := hubClaims(t, name); len(cms) != 0 {
		t.Fatalf("claim left: %+v", cms)
	}
	fleettest.Must(t, a.Delete(ctx, probe))
}

// Claims are hub state: after a hub restart the holder keeps its name, the
// loser stays Conflict, and converging again writes nothing anywhere — not at
// the provider, not to the claims.
func TestClaimsSurviveAHubRestartWithNoProviderWrite(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "alpha", "beta")
	const name = "restart.example.com"
	fleettest.Must(t, fleet.Members["beta"].Client.Create(ctx, domainManager(ns, "holder", name, "A", "192.0.2.80")))
	waitReason(t, "beta", ns, "holder", v1alpha1.ReasonRecordSynced)
	fleettest.Must(t, fleet.Members["alpha"].Client.Create(ctx, domainManager(ns, "loser", name, "A", "192.0.2.81")))
	waitReason(t, "alpha", ns, "loser", v1alpha1.ReasonConflict)
	claims := hubClaims(t, name)
	if len(claims) != 1 {
		t.Fatalf("claims = %+v", claims)
	}

	fleettest.Must(t, mgr.Stop())
	writes := cf.Writes()
	var err error
	mgr, err = fleet.StartManager(cfg)
	fleettest.Must(t, err)
	fleettest.Must(t, mgr.WaitEngaged(ctx, "alpha", "beta"))
	// Every DomainManager of the fleet is reconciled again after the restart.
	time.Sleep(2 * cfg.ResyncInterval)
	waitReason(t, "beta", ns, "holder", v1alpha1.ReasonRecordSynced)
	waitReason(t, "alpha", ns, "loser", v1alpha1.ReasonConflict)
	if n := cf.Writes() - writes; n != 0 {
		t.Fatalf("%d provider writes after a restart\n%s", n, cf.SortedCalls())
	}
	after := hubClaims(t, name)
	if len(after) != 1 || after[0].ResourceVersion != claims[0].ResourceVersion || after[0].Data["domainManager"] != "holder" {
		t.Fatalf("claim rewritten by the restart: %+v → %+v", claims, after)
	}
	rec, err := only(name, "A")
	fleettest.Must(t, err)
	if !dns.OwnedBy(rec.Comment, owner("beta", ns, "holder")) || rec.Content != "192.0.2.80" {
		t.Fatalf("record = %+v", rec)
	}
}
