package dns

import (
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Permissions are what one member's DomainManagers may do: the names they
// may claim, and the kinds of names and actions that need an explicit grant.
type Permissions struct {
	// AllowedSuffixes are domain suffixes; a name must equal one or end in
	// "."+suffix. "*" allows any name; none allows nothing.
	AllowedSuffixes []string `json:"allowedSuffixes,omitempty"`
	// Wildcard allows "*.<name>" records.
	Wildcard bool `json:"wildcard,omitempty"`
	// Apex allows records at a zone's apex (the zone's own name).
	Apex bool `json:"apex,omitempty"`
	// Underscore allows "_*.<name>" records whose base name the member does
	// not hold (an underscore name under a name the member holds is always
	// allowed; under a name another member holds, never).
	Underscore bool `json:"underscore,omitempty"`
	// Adopt allows taking over an existing record without a fleethub marker
	// (with the DomainManager annotation app.54b3r.io/dns-adopt=true).
	Adopt bool `json:"adopt,omitempty"`
	// DeleteAdopted deletes an adopted record with its DomainManager; by
	// default it is left in place, with its original comment back.
	DeleteAdopted bool `json:"deleteAdopted,omitempty"`
}

// Policy is the hub's DNS policy: a default for every member and entries
// for single members, keyed by cluster name or by cluster identity (the UID
// of its kube-system namespace). A member's entry replaces the default.
type Policy struct {
	Default *Permissions           `json:"default,omitempty"`
	Members map[string]Permissions `json:"members,omitempty"`
}

// ParsePolicy reads a policy document (YAML or JSON). Unknown fields are
// refused, so a misspelt permission is an error rather than silently false.
func ParsePolicy(data []byte) (Policy, error) {
	var p Policy
	if err := yaml.UnmarshalStrict(data, &p); err != nil {
		return Policy{}, err
	}
	norm := func(perm *Permissions) {
		var out []string
		for _, s := range perm.AllowedSuffixes {
			out = append(out, ParseSuffixes(s)...)
		}
		perm.AllowedSuffixes = out
	}
	if p.Default != nil {
		norm(p.Default)
	}
	for k, perm := range p.Members {
		norm(&perm)
		p.Members[k] = perm
	}
	return p, nil
}

// For returns the permissions of the member with this identity and cluster
// name, and where they came from: its entry by identity, then by name, then
// the policy's default, then fallback (the hub's flag default).
func (p Policy) For(identity, cluster string, fallback Permissions) (Permissions, string) {
	if perm, ok := p.Members[identity]; ok && identity != "" {
		return perm, "members." + identity
	}
	if perm, ok := p.Members[cluster]; ok {
		return perm, "members." + cluster
	}
	if p.Default != nil {
		return *p.Default, "default"
	}
	return fallback, "hub default"
}

// CheckName is the part of the policy decided on the name alone: its suffix
// and, for a wildcard, the wildcard grant. It returns why not, or nil.
func (p Permissions) CheckName(name string) error {
	name = NormalizeName(name)
	if !Allowed(name, p.AllowedSuffixes) {
		allowed := "none"
		if len(p.AllowedSuffixes) > 0 {
			allowed = strings.Join(p.AllowedSuffixes, ", ")
		}
		return fmt.Errorf("%s is outside the allowed suffixes (%s)", name, allowed)
	}
	if IsWildcard(name) && !p.Wildcard {
		return fmt.Errorf("%s is a wildcard name; wildcards need the wildcard permission", name)
	}
	return nil
}

// CheckPlacement is the part decided once the zone and the holder of the
// base name are known: the apex grant, and the underscore grant for an
// underscore name whose base the member does not hold.
func (p Permissions) CheckPlacement(name, zone string, memberHoldsBase bool) error {
	name = NormalizeName(name)
	if SameName(name, zone) && !p.Apex {
		return fmt.Errorf("%s is the apex of zone %s; apex records need the apex permission", name, NormalizeName(zone))
	}
	if IsUnderscore(name) && !memberHoldsBase && !p.Underscore {
		return fmt.Errorf("%s is an underscore name and this member holds no claim on %s; it needs the underscore permission", name, BaseName(name))
	}
	return nil
}

// String renders the permissions for messages.
func (p Permissions) String() string {
	var grants []string
	for _, g := range []struct {
		on   bool
		name string
	}{{p.Wildcard, "wildcard"}, {p.Apex, "apex"}, {p.Underscore, "underscore"}, {p.Adopt, "adopt"}, {p.DeleteAdopted, "deleteAdopted"}} {
		if g.on {
			grants = append(grants, g.name)
		}
	}
	sort.Strings(grants)
	s := "suffixes " + strings.Join(p.AllowedSuffixes, ", ")
	if len(p.AllowedSuffixes) == 0 {
		s = "no suffixes"
	}
	if len(grants) > 0 {
		s += "; " + strings.Join(grants, ", ")
	}
	return s
}
