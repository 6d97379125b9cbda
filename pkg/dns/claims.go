package dns

import (
	"fmt"
	"sort"
	"time"
)

// ClaimKey identifies a DomainManager across the fleet.
type ClaimKey struct {
	Cluster   string
	Namespace string
	Name      string
}

func (k ClaimKey) String() string { return k.Cluster + "/" + k.Namespace + "/" + k.Name }

// Claim is a DomainManager's claim on a name and record type.
type Claim struct {
	Key ClaimKey
	// FQDN is the normalized name claimed.
	FQDN string
	// Type is the record type claimed.
	Type string
	// Created is the DomainManager's creationTimestamp.
	Created time.Time
}

// Describe names the claimant for condition messages.
func (c Claim) Describe() string {
	return fmt.Sprintf("DomainManager %s/%s in cluster %s (created %s)", c.Key.Namespace, c.Key.Name, c.Key.Cluster, c.Created.UTC().Format(time.RFC3339))
}

// ClaimBefore orders claims: the earlier creationTimestamp first, then cluster,
// namespace and name, so every hub replica and every reconcile agrees.
func ClaimBefore(a, b Claim) bool {
	if !a.Created.Equal(b.Created) {
		return a.Created.Before(b.Created)
	}
	if a.Key.Cluster != b.Key.Cluster {
		return a.Key.Cluster < b.Key.Cluster
	}
	if a.Key.Namespace != b.Key.Namespace {
		return a.Key.Namespace < b.Key.Namespace
	}
	return a.Key.Name < b.Key.Name
}

// ClaimsConflict reports whether two claims cannot both hold: same name and
// clashing types (see Clashes).
func ClaimsConflict(a, b Claim) bool {
	return a.Key != b.Key && SameName(a.FQDN, b.FQDN) && Clashes(a.Type, b.Type)
}

// Resolve decides, among claims on one name, who holds what: claims are taken
// in ClaimBefore order and each is granted unless it conflicts with one
// already granted. The result maps every blocked claim to the granted claim
// that blocks it; granted claims are absent.
func Resolve(claims []Claim) map[ClaimKey]Claim {
	sorted := append([]Claim(nil), claims...)
	sort.SliceStable(sorted, func(i, j int) bool { return ClaimBefore(sorted[i], sorted[j]) })
	var granted []Claim
	blocked := map[ClaimKey]Claim{}
	for _, c := range sorted {
		var by *Claim
		for i := range granted {
			if ClaimsConflict(granted[i], c) {
				by = &granted[i]
				break
			}
		}
		if by != nil {
			blocked[c.Key] = *by
			continue
		}
		granted = append(granted, c)
	}
	return blocked
}
