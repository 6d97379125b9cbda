// Package dns is fleethub's provider-neutral DNS model: records, the owner
// marker fleethub writes into every record it creates, the plan (the diff of
// what a DomainManager wants against what the provider has), zone matching,
// claim ordering between DomainManagers, and the narrow Provider interface
// that Cloudflare (providers/dns/cloudflare) and the in-memory provider
// (providers/dns/inmemory) implement.
package dns

import (
	"context"
	"net/netip"
	"regexp"
	"strings"
)

// Record types fleethub manages.
const (
	TypeA     = "A"
	TypeAAAA  = "AAAA"
	TypeCNAME = "CNAME"
	TypeTXT   = "TXT"
)

// Record is one DNS record as a provider stores it.
type Record struct {
	// ID is the provider's id; empty for a record not yet created.
	ID string
	// Name is the fully qualified name, lower case, without a trailing dot.
	Name string
	// Type is A, AAAA, CNAME, TXT (or any other type a provider returns).
	Type string
	// Content is the value: an address, a hostname or text.
	Content string
	// TTL in seconds; 1 means automatic. Proxied records report 1.
	TTL int
	// Proxied routes traffic through the provider's proxy (Cloudflare).
	Proxied bool
	// Comment is free text; fleethub keeps its owner marker there.
	Comment string
}

// Zone is a DNS zone at a provider.
type Zone struct {
	ID   string
	Name string
}

// Provider is the narrow interface the DomainManager controller uses. One
// Provider instance serves every member, so it is one rate-limit budget; it
// must be safe for concurrent use.
//
// Errors are *Error values (see KindOf) so callers can tell rate limiting
// from bad credentials from provider failures without knowing the provider.
type Provider interface {
	// FindZone returns the zone a record called name belongs in: the zone
	// called want (spec.zone) when set, else the longest visible zone that
	// contains name (see MatchZone). No such zone gives KindNotFound.
	// Implementations cache the zone list.
	FindZone(ctx context.Context, name, want string) (Zone, error)
	// Records lists every record of a zone. Implementations may serve it from
	// a cache no older than their resync interval, kept current by their own
	// writes, so a steady state costs at most one (paged) list per zone and
	// interval whatever the number of records.
	Records(ctx context.Context, zone Zone) ([]Record, error)
	// Lookup reads the records at one name from the provider, bypassing any
	// cache. The controller calls it right before a create ("look before you
	// create"), so a record that appeared since the last list, or one that a
	// timed-out create did make, is seen and not duplicated.
	Lookup(ctx context.Context, zone Zone, name string) ([]Record, error)
	// Create creates rec (its ID is ignored) and returns it as stored.
	Create(ctx context.Context, zone Zone, rec Record) (Record, error)
	// Update replaces the record rec.ID with rec and returns it as stored.
	Update(ctx context.Context, zone Zone, rec Record) (Record, error)
	// Delete deletes the record id. A record that does not exist gives an
	// error of KindNotFound.
	Delete(ctx context.Context, zone Zone, id string) error
}

// CredentialsSetter is implemented by providers that take their secret from
// the hub's DNS credentials Secret. SetCredentials is called with the Secret's
// data whenever it changes, and with nil when the Secret is missing; it
// reports whether the effective credentials changed.
type CredentialsSetter interface {
	SetCredentials(data map[string][]byte) (changed bool)
}

// BudgetSharer is implemented by providers with a request budget that hub
// replicas must share: ShareBudget(n) is called whenever the number of live
// replicas changes, so the fleet as a whole stays within the account's limit.
type BudgetSharer interface {
	ShareBudget(replicas int)
}

// NormalizeName lower-cases a domain name and drops a trailing dot.
func NormalizeName(name string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
}

// NormalizeContent returns the canonical form of a record value, so values
// that a provider rewrites (IPv6 compression, hostname case, a trailing dot,
// TXT quoting) compare equal to what was asked for.
func NormalizeContent(typ, content string) string {
	switch strings.ToUpper(typ) {
	case TypeA, TypeAAAA:
		if a, err := netip.ParseAddr(strings.TrimSpace(content)); err == nil {
			return a.String()
		}
		return strings.TrimSpace(content)
	case TypeCNAME:
		return NormalizeName(content)
	case TypeTXT:
		return unquoteTXT(content)
	}
	return content
}

var txtStringsRE = regexp.MustCompile(`^"((?:[^"\\]|\\.)*)"(?:\s+"((?:[^"\\]|\\.)*)")*$`)
var txtStringRE = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)

// unquoteTXT reads TXT content the way providers may return it: in quotes,
// or split into several quoted strings of at most 255 characters each
// ("abc" "def"), and returns the plain text. Anything else is returned as is.
func unquoteTXT(content string) string {
	if !txtStringsRE.MatchString(content) {
		return content
	}
	var b strings.Builder
	for _, m := range txtStringRE.FindAllStringSubmatch(content, -1) {
		b.WriteString(strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(m[1]))
	}
	return b.String()
}

// SameName compares two domain names the way DNS does: case-insensitively,
// ignoring a trailing dot.
func SameName(a, b string) bool {
	return NormalizeName(a) == NormalizeName(b)
}

// InSync reports whether the live record already carries what desired asks
// for. Proxied records always report ttl 1 at Cloudflare, so the TTL of a
// proxied record is not compared (the API requires ttl 1 for them anyway).
func InSync(desired, live Record) bool {
	if !SameName(desired.Name, live.Name) || !strings.EqualFold(desired.Type, live.Type) {
		return false
	}
	if NormalizeContent(desired.Type, desired.Content) != NormalizeContent(live.Type, live.Content) {
		return false
	}
	if desired.Proxied != live.Proxied {
		return false
	}
	if !desired.Proxied && desired.TTL != live.TTL {
		return false
	}
	return true
}
