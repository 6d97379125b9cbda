package domainmanager

import (
	"context"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/dns"
)

// apply plans the provider's records against the DomainManager, persists
// the hub claim, then writes: deletes first, then the update or create.
func (r *Reconciler) apply(ctx context.Context, log logr.Logger, rec events.EventRecorder, dm *v1alpha1.DomainManager, a admission, zone dns.Zone, st standing, obs statusInput) statusInput {
	fail := func(err error) statusInput {
		obs.Outcome, obs.Err = outcomeProviderError, err
		return obs
	}
	records, err := r.Provider.Records(ctx, zone)
	if err != nil {
		return fail(err)
	}
	wantsAdopt := dm.Annotations[v1alpha1.AnnotationDNSAdopt] == "true"
	in := dns.PlanInput{Desired: dns.Desired(a.spec), Owner: r.owner(a.me.Cluster, dm), Inherit: st.inherit,
		Adopt: wantsAdopt && a.perm.Adopt, PreferID: dm.Status.RecordID, Records: records}
	plan := dns.MakePlan(in)
	if plan.Create != nil {
		// Look before you create: the cached list may predate a record made
		// since (by hand, or by one of our creates that timed out).
		fresh, err := r.Provider.Lookup(ctx, zone, a.fqdn)
		if err != nil {
			return fail(err)
		}
		in.Records = replaceName(records, a.fqdn, fresh)
		plan = dns.MakePlan(in)
	}
	if plan.Blocked != dns.NotBlocked {
		// Nothing of ours is in place: hold no claim we cannot use, but
		// still remove what we own and no longer want.
		if err := r.deleteUnwanted(ctx, log, rec, dm, zone, plan, &obs); err != nil {
			return fail(err)
		}
		obs.Blocker, obs.KeepRecordID = plan.Blocker, false
		obs.Outcome, obs.AdoptRefused = outcomeUnmanaged, wantsAdopt && !a.perm.Adopt
		if plan.Blocked == dns.BlockedForeign {
			obs.Outcome = outcomeForeign
		}
		return obs
	}

	// The hub claim comes before the first provider write.
	want := dns.Claim{FQDN: a.fqdn, Type: a.spec.Type, Holder: a.me, Zone: zone.Name, ZoneID: zone.ID}
	if st.claim != nil {
		want.RecordID, want.Adopted, want.OriginalComment = st.claim.RecordID, st.claim.Adopted, st.claim.OriginalComment
	}
	switch {
	case plan.Current != nil:
		want.RecordID = plan.Current.ID
	case len(plan.Update) > 0:
		want.RecordID = plan.Update[0].ID
	}
	if plan.Adopted {
		// Remember the comment it had, to hand it back unmanaged later.
		want.Adopted = true
		for _, rr := range in.Records {
			if rr.ID == plan.Update[0].ID {
				want.OriginalComment = rr.Comment
			}
		}
	}
	if ok, err := r.persistClaim(ctx, &st, a, want, &obs); err != nil || !ok {
		if err != nil {
			return fail(err)
		}
		obs.KeepRecordID = false
		return obs
	}

	if err := r.deleteUnwanted(ctx, log, rec, dm, zone, plan, &obs); err != nil {
		return fail(err)
	}
	obs.WroteZone = true
	switch {
	case plan.Current != nil:
		obs.Record = plan.Current
	case len(plan.Update) > 0:
		got, err := r.Provider.Update(ctx, zone, plan.Update[0])
		if err != nil {
			return fail(err)
		}
		obs.Record, obs.Wrote = &got, true
		verb := "Updated"
		if plan.Adopted {
			verb = "Adopted"
		}
		log.Info(verb+" the record", "record", got.ID, "name", got.Name, "type", got.Type)
		rec.Eventf(dm, nil, corev1.EventTypeNormal, "Record"+verb, "Apply", "%s %s record %s → %s", verb, got.Type, got.Name, shorten(got.Content, 80))
	case plan.Create != nil:
		got, err := r.Provider.Create(ctx, zone, *plan.Create)
		if err != nil {
			return fail(err)
		}
		obs.Record, obs.Wrote = &got, true
		log.Info("Created the record", "record", got.ID, "name", got.Name, "type", got.Type)
		rec.Eventf(dm, nil, corev1.EventTypeNormal, "RecordCreated", "Apply", "Created %s record %s → %s", got.Type, got.Name, shorten(got.Content, 80))
	}
	// The claim names the record, so deletion finds it whatever the
	// member's status says.
	if obs.Record != nil && st.claim.RecordID != obs.Record.ID {
		want.RecordID = obs.Record.ID
		if _, err := r.persistClaim(ctx, &st, a, want, &obs); err != nil {
			return fail(err)
		}
	}
	if err := r.releaseStale(ctx, a.me, a.fqdn, a.spec.Type, dm.Status.FQDN); err != nil {
		obs.FQDN = dm.Status.FQDN // keep the old name known until it is released
		return fail(err)
	}
	obs.Outcome = outcomeSynced
	return obs
}

// deleteUnwanted deletes the records carrying our marker the plan no longer
// wants (duplicates, a previous name or type).
func (r *Reconciler) deleteUnwanted(ctx context.Context, log logr.Logger, rec events.EventRecorder, dm *v1alpha1.DomainManager, zone dns.Zone, plan dns.Plan, obs *statusInput) error {
	for _, d := range plan.Delete {
		obs.WroteZone = true
		if err := r.Provider.Delete(ctx, zone, d.ID); err != nil && dns.KindOf(err) != dns.KindNotFound {
			return err
		}
		obs.Wrote = true
		log.Info("Deleted a record this DomainManager no longer wants", "record", d.ID, "name", d.Name, "type", d.Type)
		rec.Eventf(dm, nil, corev1.EventTypeNormal, "RecordDeleted", "Delete", "Deleted %s record %s (no longer wanted)", d.Type, d.Name)
	}
	return nil
}

func replaceName(records []dns.Record, name string, fresh []dns.Record) []dns.Record {
	out := make([]dns.Record, 0, len(records)+len(fresh))
	for _, r := range records {
		if !dns.SameName(r.Name, name) {
			out = append(out, r)
		}
	}
	return append(out, fresh...)
}
