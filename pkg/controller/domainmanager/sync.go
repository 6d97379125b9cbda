package domainmanager

import (
	"context"

	"github.com/go-logr/logr"
	"k8s.io/client-go/tools/events"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/dns"
)

// sync brings the provider in line with one DomainManager, in phases:
//
//	admit (admit.go)   spec valid, name allowed for the member by hub policy
//	zone               the zone the record belongs in; leave an old zone
//	claim (claim.go)   who holds the name at the hub; hierarchy, apex, underscore
//	plan (apply.go)    the provider's records against what we want
//	apply (apply.go)   the hub claim persisted first, then the provider writes
//
// Each phase returns early with the outcome that stops it.
func (r *Reconciler) sync(ctx context.Context, log logr.Logger, rec events.EventRecorder, cluster string, dm *v1alpha1.DomainManager) statusInput {
	obs := statusInput{Cluster: cluster, FQDN: dns.NormalizeName(dm.Spec.DomainName), KeepRecordID: true}
	key := dns.ClaimKey{Cluster: cluster, Namespace: dm.Namespace, Name: dm.Name}
	r.index.put(key, obs.FQDN)

	a, ok := r.admit(ctx, cluster, dm, &obs)
	if !ok {
		return obs
	}
	defer r.lock(a.fqdn)()

	zone, err := r.Provider.FindZone(ctx, a.fqdn, a.spec.Zone)
	if err != nil {
		obs.Outcome, obs.Err = outcomeProviderError, err
		return obs
	}
	obs.Zone = zone

	st, ok := r.claimPhase(ctx, rec, dm, a, zone, &obs)
	if !ok {
		obs.KeepRecordID = false
		return obs
	}

	// The record moved to another zone (spec.zone or a new, longer zone):
	// clean up what we own in the old one first.
	owner := r.owner(cluster, dm)
	old := []dns.Zone{{ID: dm.Status.ZoneID, Name: dm.Status.Zone}}
	if st.claim != nil {
		old = append(old, dns.Zone{ID: st.claim.ZoneID, Name: st.claim.Zone})
	}
	for i, z := range old {
		if z.ID == "" || z.ID == zone.ID || (i > 0 && z.ID == old[0].ID) {
			continue
		}
		if err := r.deleteOwned(ctx, rec, dm, z, owner); err != nil {
			obs.Outcome, obs.Err = outcomeProviderError, err
			return obs
		}
	}
	return r.apply(ctx, log, rec, dm, a, zone, st, obs)
}
