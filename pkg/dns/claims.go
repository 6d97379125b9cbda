package dns

import (
	"fmt"
	"strings"
	"time"
)

// ClaimKey identifies a DomainManager across the fleet (for requeues).
type ClaimKey struct {
	Cluster   string
	Namespace string
	Name      string
}

func (k ClaimKey) String() string { return k.Cluster + "/" + k.Namespace + "/" + k.Name }

// Holder is the DomainManager that holds a claim: the member's identity
// (the UID of its kube-system namespace, or its cluster name until the hub
// knows the UID), the cluster name it had when it claimed, and the
// DomainManager's namespace, name and UID.
type Holder struct {
	Identity  string
	Cluster   string
	Namespace string
	Name      string
	UID       string
}

// Key is the holder's requeue key.
func (h Holder) Key() ClaimKey {
	return ClaimKey{Cluster: h.Cluster, Namespace: h.Namespace, Name: h.Name}
}

// SameDomainManager reports whether h and o are one DomainManager: same
// member, namespace, name and UID (a re-created DomainManager of the same
// name is another claimant).
func (h Holder) SameDomainManager(o Holder) bool {
	return h.SameMember(o) && h.Namespace == o.Namespace && h.Name == o.Name && h.UID == o.UID
}

// SameMember reports whether h and o live in one member cluster: the same
// identity, or, when one side knew only the cluster name (its identity was
// not recorded yet; then the name stands in for it), the same cluster name.
func (h Holder) SameMember(o Holder) bool {
	if h.Identity == o.Identity {
		return true
	}
	return (h.Identity == h.Cluster || o.Identity == o.Cluster) && h.Cluster == o.Cluster
}

// Describe names the holder for condition messages.
func (h Holder) Describe() string {
	return fmt.Sprintf("DomainManager %s/%s in cluster %s", h.Namespace, h.Name, h.Cluster)
}

// Claim is the hub's record that one DomainManager holds one DNS name. The
// hub persists it before its first write at the provider, so the first
// claim persisted wins, whatever the members' clocks say, and it outlives
// restarts, failovers and the member's own records of what it did.
type Claim struct {
	// FQDN is the normalized name claimed; Type the record type.
	FQDN string
	Type string
	// Holder is who holds the name.
	Holder Holder
	// Zone and ZoneID are where the record lives; RecordID is the record,
	// once created. Cleanup starts from here, not from the member's status.
	Zone     string
	ZoneID   string
	RecordID string
	// Adopted is set when the record existed without a marker and was taken
	// over; OriginalComment is the comment it had, restored when the record
	// is released again.
	Adopted         bool
	OriginalComment string
	// Previous is the holder the claim passed on from (its member or its
	// DomainManager is gone); its records at FQDN are the new holder's.
	Previous *Holder
	// HolderMissingSince is when the hub first found the holder's member
	// unregistered (zero while it is registered). The claim passes on once
	// it has been missing for the grace period.
	HolderMissingSince time.Time

	// Object and Persisted are the claim object's name and its creation
	// time as the hub's apiserver recorded it (filled when read back).
	Object    string
	Persisted time.Time
}

// ClaimedFirst orders two claims that clash (a CNAME next to another type
// at one name, claimed by two holders at once): the one the hub persisted
// first, then the smaller object name, so every replica agrees. Members'
// clocks play no part.
func ClaimedFirst(a, b Claim) bool {
	if !a.Persisted.Equal(b.Persisted) {
		return a.Persisted.Before(b.Persisted)
	}
	return a.Object < b.Object
}

// HolderState is what the hub could find out about a claim's holder.
type HolderState struct {
	// Registered: a member Secret with the holder's identity exists.
	Registered bool
	// Checked: the member is engaged and its DomainManagers were read, so
	// Exists is known. Unchecked holders count as alive.
	Checked bool
	// Exists: the holder's DomainManager (same UID) still exists.
	Exists bool
}

// Succession says whether a claim passes on to another claimant.
type Succession int

const (
	// HolderAlive: the holder keeps the name.
	HolderAlive Succession = iota
	// HolderMissing: the holder's member is unregistered but within the
	// grace period; the claim passes on once it is over.
	HolderMissing
	// HolderGone: the holder's DomainManager is gone, or its member has been
	// unregistered for longer than the grace period.
	HolderGone
)

// Succeed decides whether the claim c passes on: only when the holder's
// DomainManager is known to be gone, or its member has been unregistered
// (since c.HolderMissingSince) for at least grace. Anything unknown keeps the
// holder: a live holder is never displaced.
func Succeed(c Claim, st HolderState, now time.Time, grace time.Duration) Succession {
	switch {
	case st.Registered && st.Checked && !st.Exists:
		return HolderGone
	case st.Registered:
		return HolderAlive
	case c.HolderMissingSince.IsZero():
		return HolderMissing
	case now.Sub(c.HolderMissingSince) >= grace:
		return HolderGone
	}
	return HolderMissing
}

// IsWildcard reports whether name is a wildcard name ("*.example.com").
func IsWildcard(name string) bool { return strings.HasPrefix(NormalizeName(name), "*.") }

// IsUnderscore reports whether name's first label starts with "_" (ACME
// challenges, DKIM keys, service records, domain verification).
func IsUnderscore(name string) bool { return strings.HasPrefix(NormalizeName(name), "_") }

// BaseName is the name an underscore name hangs off: its leading "_" labels
// removed ("_acme-challenge.www.example.com" → "www.example.com"). Such a
// name belongs to whoever holds its base name. Names without a leading
// underscore label are their own base.
func BaseName(name string) string {
	name = NormalizeName(name)
	for strings.HasPrefix(name, "_") {
		i := strings.IndexByte(name, '.')
		if i < 0 {
			return name
		}
		name = name[i+1:]
	}
	return name
}
