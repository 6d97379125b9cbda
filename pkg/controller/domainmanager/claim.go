package domainmanager

import (
	"context"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/dns"
)

// standing is where a DomainManager stands at the hub after the claim phase:
// the claim it holds (nil while the name is unclaimed) and the owners whose
// records at the name it inherited with the claim.
type standing struct {
	claim   *stored
	inherit []dns.Owner
}

// holderOwner is the marker owner of a claim holder's records.
func (r *Reconciler) holderOwner(h dns.Holder) dns.Owner {
	return dns.Owner{Hub: r.HubID, Cluster: h.Cluster, Namespace: h.Namespace, Name: h.Name}
}

// claimPhase decides, from the hub's claims, whether this DomainManager may
// write: the name hierarchy (an underscore name belongs to the member that
// holds its base name), the apex and underscore permissions, and the claim
// on the name itself (first persisted wins; a live holder keeps it; it
// passes on when the holder is gone). ok is false when obs says why not.
func (r *Reconciler) claimPhase(ctx context.Context, rec events.EventRecorder, dm *v1alpha1.DomainManager, a admission, zone dns.Zone, obs *statusInput) (standing, bool) {
	fail := func(err error) (standing, bool) {
		obs.Outcome, obs.Err = outcomeProviderError, err
		return standing{}, false
	}
	holdsBase := false
	if dns.IsUnderscore(a.fqdn) {
		base := dns.BaseName(a.fqdn)
		claims, err := r.store.all(ctx, base, false)
		if err != nil {
			return fail(err)
		}
		for _, c := range claims {
			if !c.Holder.SameMember(a.me) {
				obs.Outcome, obs.Winner, obs.Under = outcomeClaimConflict, &c.Claim, base
				return standing{}, false
			}
			holdsBase = true
		}
	}
	if err := a.perm.CheckPlacement(a.fqdn, zone.Name, holdsBase); err != nil {
		obs.Outcome, obs.Refusal = outcomeNotAllowed, err
		return standing{}, false
	}

	cur, err := r.store.get(ctx, a.fqdn, a.spec.Type)
	if err != nil {
		return fail(err)
	}
	if cur == nil {
		// Unclaimed: a clashing claim (a CNAME next to anything) held by
		// another DomainManager keeps us out; our claim is persisted right
		// before the first write (persistClaim).
		if w, err := r.clashing(ctx, a, false); err != nil || w != nil {
			if err != nil {
				return fail(err)
			}
			obs.Outcome, obs.Winner = outcomeClaimConflict, &w.Claim
			return standing{}, false
		}
		return standing{}, true
	}
	if cur.Holder.SameDomainManager(a.me) {
		st := standing{claim: cur}
		if p := cur.Previous; p != nil {
			st.inherit = []dns.Owner{r.holderOwner(*p)}
		}
		return st, true
	}

	// Held by another DomainManager: does it pass on?
	hs, err := r.holderState(ctx, cur.Holder)
	if err != nil {
		return fail(err)
	}
	now := time.Now()
	obs.Outcome, obs.Winner = outcomeClaimConflict, &cur.Claim
	switch dns.Succeed(cur.Claim, hs, now, r.ClaimGracePeriod) {
	case dns.HolderAlive:
		if !cur.HolderMissingSince.IsZero() {
			// Its member is back: the grace period starts afresh next time.
			next := cur.Claim
			next.HolderMissingSince = time.Time{}
			if _, err := r.store.update(ctx, cur, next); err != nil {
				return fail(err)
			}
		}
		return standing{}, false
	case dns.HolderMissing:
		since := cur.HolderMissingSince
		if since.IsZero() {
			since = now
			next := cur.Claim
			next.HolderMissingSince = now
			if _, err := r.store.update(ctx, cur, next); err != nil {
				return fail(err)
			}
		}
		obs.RetryAfter = max(time.Second, since.Add(r.ClaimGracePeriod).Sub(now))
		return standing{}, false
	}

	// The holder is gone: the claim passes to us, with its record.
	next := dns.Claim{FQDN: a.fqdn, Type: a.spec.Type, Holder: a.me, Zone: cur.Zone, ZoneID: cur.ZoneID, RecordID: cur.RecordID,
		Adopted: cur.Adopted, OriginalComment: cur.OriginalComment, Previous: &cur.Holder}
	won, err := r.store.update(ctx, cur, next)
	if err != nil {
		return fail(err)
	}
	obs.Outcome, obs.Winner = outcomeSynced, nil
	ctrl.LoggerFrom(ctx).Info("The hub's claim on the name passed to this DomainManager", "name", a.fqdn, "from", cur.Holder.Key().String())
	rec.Eventf(dm, nil, corev1.EventTypeNormal, "ClaimPassedOn", "Claim", "The claim on %s %s passed from %s (gone) to this DomainManager", a.spec.Type, a.fqdn, cur.Holder.Describe())
	return standing{claim: won, inherit: []dns.Owner{r.holderOwner(cur.Holder)}}, true
}

// clashing returns a claim on another record type at the name that cannot
// coexist with ours (CNAME), held by another DomainManager.
func (r *Reconciler) clashing(ctx context.Context, a admission, live bool) (*stored, error) {
	claims, err := r.store.all(ctx, a.fqdn, live)
	if err != nil {
		return nil, err
	}
	for _, c := range claims {
		if !strings.EqualFold(c.Type, a.spec.Type) && dns.Clashes(c.Type, a.spec.Type) && !c.Holder.SameDomainManager(a.me) {
			return c, nil
		}
	}
	return nil, nil
}

// persistClaim makes sure the hub holds want for this DomainManager before
// the provider is written: it creates the claim if the name is unclaimed
// (the apiserver's create-if-absent decides a race) and rewrites it when
// what it records changed. ok is false when another DomainManager won.
func (r *Reconciler) persistClaim(ctx context.Context, st *standing, a admission, want dns.Claim, obs *statusInput) (bool, error) {
	if st.claim != nil {
		want.Previous, want.HolderMissingSince = st.claim.Previous, time.Time{}
		if sameStored(st.claim, want) {
			return true, nil
		}
		c, err := r.store.update(ctx, st.claim, want)
		if err != nil {
			return false, err
		}
		st.claim = c
		return true, nil
	}
	c, created, err := r.store.create(ctx, want)
	if err != nil {
		return false, err
	}
	if !created && !c.Holder.SameDomainManager(a.me) {
		obs.Outcome, obs.Winner = outcomeClaimConflict, &c.Claim
		return false, nil
	}
	st.claim = c
	if !created {
		// Our own claim, written by an earlier reconcile the cache has not
		// caught up with.
		return r.persistClaim(ctx, st, a, want, obs)
	}
	// Two clashing types claimed at once: the one persisted first keeps the
	// name, the other withdraws before writing anything.
	w, err := r.clashing(ctx, a, true)
	if err != nil {
		return false, err
	}
	if w != nil && dns.ClaimedFirst(w.Claim, c.Claim) {
		if err := r.store.release(ctx, c); err != nil {
			return false, err
		}
		st.claim = nil
		obs.Outcome, obs.Winner = outcomeClaimConflict, &w.Claim
		return false, nil
	}
	r.notify.add(r.index.waiters(a.fqdn)...)
	return true, nil
}

// releaseStale releases the claims this DomainManager holds on a name or
// type it no longer wants (spec renamed or retyped; status.fqdn is the name
// it last had), once its records there are gone, so the name passes on.
func (r *Reconciler) releaseStale(ctx context.Context, me dns.Holder, keepName, keepType, oldName string) error {
	names := []string{keepName}
	if oldName = dns.NormalizeName(oldName); oldName != "" && oldName != keepName {
		names = append(names, oldName)
	}
	for _, n := range names {
		claims, err := r.store.all(ctx, n, false)
		if err != nil {
			return err
		}
		for _, c := range claims {
			if c.Holder.SameDomainManager(me) && !(n == keepName && strings.EqualFold(c.Type, keepType)) {
				if err := r.store.release(ctx, c); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
