package dns

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// Spec is what a DomainManager asks for, provider-neutral.
type Spec struct {
	Name    string
	Type    string
	Value   string
	TTL     int
	Proxied bool
	Zone    string
}

var (
	hostnameRE = regexp.MustCompile(`^(\*\.)?([a-zA-Z0-9_]([-a-zA-Z0-9_]{0,61}[a-zA-Z0-9_])?\.)+[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$`)
	targetRE   = regexp.MustCompile(`^([a-zA-Z0-9_]([-a-zA-Z0-9_]{0,61}[a-zA-Z0-9_])?\.)+[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?\.?$`)
	zoneRE     = regexp.MustCompile(`^([a-zA-Z0-9_]([-a-zA-Z0-9_]{0,61}[a-zA-Z0-9_])?\.)*[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$`)
)

// Validate checks s with the same rules as the CRD's CEL validation, so a
// DomainManager stored before those rules existed (or by an older CRD) is
// still refused before anything reaches the provider.
func Validate(s Spec) error {
	var errs []error
	if len(s.Name) > 253 || !hostnameRE.MatchString(s.Name) {
		errs = append(errs, fmt.Errorf("domainName %q is not a fully qualified hostname", s.Name))
	}
	switch s.Type {
	case TypeA, TypeAAAA:
		a, err := netip.ParseAddr(s.Value)
		switch {
		case err != nil || a.Zone() != "":
			errs = append(errs, fmt.Errorf("value %q of an %s record is not an IP address", s.Value, s.Type))
		case s.Type == TypeA && !a.Is4():
			errs = append(errs, fmt.Errorf("value %q of an A record must be an IPv4 address", s.Value))
		case s.Type == TypeAAAA && (!a.Is6() || a.Is4In6()):
			errs = append(errs, fmt.Errorf("value %q of an AAAA record must be an IPv6 address", s.Value))
		}
	case TypeCNAME:
		if len(s.Value) > 254 || !targetRE.MatchString(s.Value) {
			errs = append(errs, fmt.Errorf("value %q of a CNAME record must be a hostname", s.Value))
		} else if SameName(s.Value, s.Name) {
			errs = append(errs, errors.New("a CNAME record must not point to itself"))
		}
	case TypeTXT:
		if s.Value == "" || len(s.Value) > 2048 {
			errs = append(errs, fmt.Errorf("value of a TXT record must be 1 to 2048 characters, got %d", len(s.Value)))
		}
	default:
		errs = append(errs, fmt.Errorf("recordType %q is not one of A, AAAA, CNAME, TXT", s.Type))
	}
	if s.TTL != 1 && (s.TTL < 60 || s.TTL > 86400) {
		errs = append(errs, fmt.Errorf("ttl %d must be 1 (automatic) or between 60 and 86400", s.TTL))
	}
	if s.Proxied {
		if s.Type != TypeA && s.Type != TypeAAAA && s.Type != TypeCNAME {
			errs = append(errs, fmt.Errorf("a %s record cannot be proxied", s.Type))
		}
		if s.TTL != 1 {
			errs = append(errs, errors.New("a proxied record must have ttl 1 (automatic)"))
		}
	}
	if s.Zone != "" {
		if !zoneRE.MatchString(s.Zone) || len(s.Zone) > 253 {
			errs = append(errs, fmt.Errorf("zone %q is not a domain name", s.Zone))
		} else if !InZone(s.Name, s.Zone) {
			errs = append(errs, fmt.Errorf("domainName %s is not inside zone %s", s.Name, s.Zone))
		}
	}
	return errors.Join(errs...)
}

// Desired turns a validated spec into the record fleethub wants, with the
// name and content in the canonical form providers store.
func Desired(s Spec) Record {
	content := s.Value
	switch s.Type {
	case TypeA, TypeAAAA, TypeCNAME:
		content = NormalizeContent(s.Type, s.Value)
	}
	return Record{Name: NormalizeName(s.Name), Type: strings.ToUpper(s.Type), Content: content, TTL: s.TTL, Proxied: s.Proxied}
}
