package domainmanager

import (
	"sync"

	"github.com/fleethub/fleethub/pkg/dns"
)

// index is this process's map of the DomainManagers it has seen and the
// names they want, so that a change to a name (a claim released or passed
// on, a policy change) re-queues exactly the DomainManagers waiting on it.
// It decides nothing: who holds a name is the hub claim's business
// (claimstore.go). An underscore name also waits on its base name.
type index struct {
	mu     sync.Mutex
	byKey  map[dns.ClaimKey]string
	byName map[string]map[dns.ClaimKey]bool
}

func newIndex() *index {
	return &index{byKey: map[dns.ClaimKey]string{}, byName: map[string]map[dns.ClaimKey]bool{}}
}

func (x *index) put(k dns.ClaimKey, fqdn string) {
	fqdn = dns.NormalizeName(fqdn)
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.byKey[k] == fqdn {
		return
	}
	x.removeLocked(k)
	x.byKey[k] = fqdn
	for _, n := range []string{fqdn, dns.BaseName(fqdn)} {
		if x.byName[n] == nil {
			x.byName[n] = map[dns.ClaimKey]bool{}
		}
		x.byName[n][k] = true
	}
}

func (x *index) delete(k dns.ClaimKey) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.removeLocked(k)
}

func (x *index) removeLocked(k dns.ClaimKey) {
	fqdn, ok := x.byKey[k]
	if !ok {
		return
	}
	delete(x.byKey, k)
	for _, n := range []string{fqdn, dns.BaseName(fqdn)} {
		delete(x.byName[n], k)
		if len(x.byName[n]) == 0 {
			delete(x.byName, n)
		}
	}
}

// waiters are the DomainManagers that want fqdn or a name under it.
func (x *index) waiters(fqdn string) []dns.ClaimKey {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []dns.ClaimKey
	for k := range x.byName[dns.NormalizeName(fqdn)] {
		out = append(out, k)
	}
	return out
}

// waitersOfObject are the waiters of the name a claim object is for.
func (x *index) waitersOfObject(object string) []dns.ClaimKey {
	x.mu.Lock()
	names := map[string]bool{}
	for _, fqdn := range x.byKey {
		for _, t := range claimTypes {
			if claimObjectName(fqdn, t) == object {
				names[fqdn], names[dns.BaseName(fqdn)] = true, true
			}
		}
	}
	x.mu.Unlock()
	var out []dns.ClaimKey
	for n := range names {
		out = append(out, x.waiters(n)...)
	}
	return out
}

// keys lists the known DomainManagers, of one cluster or ("") all.
func (x *index) keys(cluster string) []dns.ClaimKey {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []dns.ClaimKey
	for k := range x.byKey {
		if cluster == "" || k.Cluster == cluster {
			out = append(out, k)
		}
	}
	return out
}

// forgetMember drops a member's DomainManagers from the index when it leaves
// the fleet (their claims stay at the hub). It is registered with the
// member-left hook.
func (x *index) forgetMember(cluster string) {
	for _, k := range x.keys(cluster) {
		x.delete(k)
	}
}
