//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/e2e/framework"
	"github.com/fleethub/fleethub/pkg/dns"
	"github.com/fleethub/fleethub/providers/dns/cloudflare/cloudflaretest"
)

// The fake Cloudflare account of the e2e fleet.
const (
	dnsToken = "e2e-api-token"
	dnsZone  = "example.com"
	dnsHubID = "fleethub-e2e"
)

var (
	cloudflare *cloudflaretest.Server
	// dnsReady is set by TestMain when the hub manager runs with the fleet's
	// DNS settings (pointed at the fake API).
	dnsReady bool
)

func dnsConfigured() bool { return dnsReady }

func domainManager(ns, name, fqdn, value string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(framework.GVK("DomainManager"))
	u.SetNamespace(ns)
	u.SetName(name)
	_ = unstructured.SetNestedMap(u.Object, map[string]any{
		"domainName": fqdn,
		"recordType": "A",
		"value":      value,
		"ttl":        int64(300),
	}, "spec")
	return u
}

// records is what the fake API holds for a name: each record's content and
// owner marker.
func records(fqdn string) []cloudflaretest.Record { return cloudflare.Find(fqdn, "A") }

// TestDomainManagerRecordsAndConflicts: a DomainManager creates its record at
// the (fake) Cloudflare API with fleethub's owner marker naming hub, cluster,
// namespace and name. The same name claimed in the other member yields still
// exactly one record and a Conflict for the later claimant; when the first
// one is deleted the later one takes the name over.
func TestDomainManagerRecordsAndConflicts(t *testing.T) {
	requireKind(t, "DomainManager")
	if !dnsConfigured() {
		t.Fatal("the hub manager has no DNS provider settings (--dns-provider)")
	}
	ctx := context.Background()
	ns := newNamespace(t, alpha, beta)
	fqdn := "api-" + ns + "." + dnsZone
	first, second := dns.Owner{Hub: dnsHubID, Cluster: alpha, Namespace: ns, Name: "api"}, dns.Owner{Hub: dnsHubID, Cluster: beta, Namespace: ns, Name: "api"}
	diagnoseOnFailure(t,
		framework.Object{Cluster: alpha, Resource: "domainmanager", Namespace: ns, Name: "api"},
		framework.Object{Cluster: beta, Resource: "domainmanager", Namespace: ns, Name: "api"})

	a := domainManager(ns, "api", fqdn, "192.0.2.10")
	if err := member(alpha).Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	eventually(t, timeout, "alpha: DomainManager api Ready", readyCondition(alpha, a))
	eventually(t, timeout, "one record owned by alpha's DomainManager", oneRecord(fqdn, "192.0.2.10", first))

	b := domainManager(ns, "api", fqdn, "192.0.2.20")
	if err := member(beta).Create(ctx, b); err != nil {
		t.Fatal(err)
	}
	eventually(t, timeout, "beta: DomainManager api reports Conflict", func(ctx context.Context) error {
		cur := &unstructured.Unstructured{}
		cur.SetGroupVersionKind(b.GroupVersionKind())
		if err := member(beta).Get(ctx, client.ObjectKeyFromObject(b), cur); err != nil {
			return err
		}
		ready, _ := framework.Condition(cur, "Ready")
		if ready["status"] != "False" || ready["reason"] != "Conflict" {
			return fmt.Errorf("Ready = %v", ready)
		}
		return nil
	})
	if err := oneRecord(fqdn, "192.0.2.10", first)(ctx); err != nil {
		t.Fatalf("with two claimants: %v", err)
	}

	if err := member(alpha).Delete(ctx, a); err != nil {
		t.Fatal(err)
	}
	eventually(t, timeout, "beta's DomainManager takes the name over", oneRecord(fqdn, "192.0.2.20", second))
	eventually(t, timeout, "beta: DomainManager api Ready after the takeover", readyCondition(beta, b))
}

// oneRecord checks the fake API holds exactly one A record for fqdn, with
// value and owner's marker.
func oneRecord(fqdn, value string, owner dns.Owner) func(context.Context) error {
	return func(context.Context) error {
		rs := records(fqdn)
		if len(rs) != 1 {
			return fmt.Errorf("%d records for %s: %+v", len(rs), fqdn, rs)
		}
		r := rs[0]
		if r.Content != value {
			return fmt.Errorf("record %s has content %s, want %s", fqdn, r.Content, value)
		}
		if !dns.OwnedBy(r.Comment, owner) {
			return fmt.Errorf("record %s has comment %q, want the owner marker of %s", fqdn, r.Comment, owner)
		}
		return nil
	}
}
