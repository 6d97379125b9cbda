package dns

import (
	"fmt"
	"strings"
)

// InZone reports whether name is the zone apex or below it.
func InZone(name, zone string) bool {
	name, zone = NormalizeName(name), NormalizeName(zone)
	return zone != "" && (name == zone || strings.HasSuffix(name, "."+zone))
}

// MatchZone picks the zone for name among zones. With want set (the
// DomainManager's spec.zone) that zone must exist and contain name; otherwise
// the longest zone containing name wins, so "a.dev.example.com" goes to zone
// "dev.example.com" rather than "example.com" when the credentials see both.
func MatchZone(name, want string, zones []Zone) (Zone, error) {
	name = NormalizeName(name)
	if want != "" {
		for _, z := range zones {
			if SameName(z.Name, want) {
				if !InZone(name, z.Name) {
					return Zone{}, fmt.Errorf("%s is not inside zone %s", name, z.Name)
				}
				return z, nil
			}
		}
		return Zone{}, fmt.Errorf("zone %s is not visible to the DNS credentials", NormalizeName(want))
	}
	var best Zone
	for _, z := range zones {
		if InZone(name, z.Name) && len(NormalizeName(z.Name)) > len(NormalizeName(best.Name)) {
			best = z
		}
	}
	if best.ID == "" {
		return Zone{}, fmt.Errorf("no zone visible to the DNS credentials contains %s", name)
	}
	return best, nil
}

// ParseSuffixes reads a comma- or space-separated list of domain suffixes.
func ParseSuffixes(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		if f = strings.TrimPrefix(NormalizeName(f), "*."); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Allowed reports whether policy lets a member claim name: name must equal
// one of the suffixes or end in "."+suffix. The suffix "*" allows any name;
// an empty list allows none.
func Allowed(name string, suffixes []string) bool {
	for _, s := range suffixes {
		if s == "*" || InZone(name, s) {
			return true
		}
	}
	return false
}
