package domainmanager

import (
	"context"
	"errors"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/dns"
	"github.com/fleethub/fleethub/pkg/finalizer"
)

// finalize removes what this DomainManager put at the provider, then its
// hub claim, then the finalizer. The records are found through the hub
// claim (zone and record id), so a record created just before a crash or a
// failed status write is not orphaned; status.zoneID and spec.zone are
// searched too. Only records carrying our marker are touched. An adopted
// record is handed back (its original comment restored) unless the hub
// policy says to delete it; deletion policy Orphan leaves the record and the
// claim, which passes on (with the record) to the next claimant.
func (r *Reconciler) finalize(ctx context.Context, c client.Client, rec events.EventRecorder, cluster string, dm *v1alpha1.DomainManager) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	if !controllerutil.ContainsFinalizer(dm, v1alpha1.Finalizer) {
		return ctrl.Result{}, nil
	}
	fqdn := dns.NormalizeName(dm.Spec.DomainName)
	orphan := dm.Annotations[v1alpha1.AnnotationDNSDeletionPolicy] == v1alpha1.DNSDeletionPolicyOrphan
	if !orphan {
		unlock := r.lock(fqdn)
		err := r.cleanup(ctx, rec, cluster, dm, fqdn)
		unlock()
		if err != nil {
			obs := statusInput{Cluster: cluster, FQDN: fqdn, KeepRecordID: true, Outcome: outcomeProviderError, Err: err, Deleting: true}
			if serr := r.writeStatus(ctx, c, rec, dm, obs); serr != nil {
				return ctrl.Result{}, errors.Join(err, serr)
			}
			log.Info("Cannot delete the record yet; keeping the finalizer", "error", err.Error())
			return r.policy().result(err)
		}
	}
	if err := finalizer.Remove(ctx, c, dm); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, err
	}
	r.index.delete(dns.ClaimKey{Cluster: cluster, Namespace: dm.Namespace, Name: dm.Name})
	// Only now may the next claimant take the name over.
	r.notify.add(r.index.waiters(fqdn)...)
	if orphan {
		log.Info("DomainManager deleted; record left in place (deletion policy Orphan)")
	} else {
		log.Info("DomainManager deleted; its record is gone")
	}
	return ctrl.Result{}, nil
}

// cleanup deletes (or hands back) our records and releases our claim.
func (r *Reconciler) cleanup(ctx context.Context, rec events.EventRecorder, cluster string, dm *v1alpha1.DomainManager, fqdn string) error {
	identity, err := r.identity(ctx, cluster)
	if err != nil {
		return err
	}
	me := dns.Holder{Identity: identity, Cluster: cluster, Namespace: dm.Namespace, Name: dm.Name, UID: string(dm.UID)}
	var claim *stored
	if dns.Validate(dns.Spec{Name: dm.Spec.DomainName, Type: string(dm.Spec.RecordType), Value: dm.Spec.Value, TTL: int(dm.Spec.TTL), Proxied: dm.Spec.Proxied, Zone: dm.Spec.Zone}) == nil {
		claim, err = r.store.get(ctx, fqdn, string(dm.Spec.RecordType))
		if err == nil && claim == nil {
			claim, err = r.store.getLive(ctx, fqdn, string(dm.Spec.RecordType))
		}
		if err != nil {
			return err
		}
		if claim != nil && !claim.Holder.SameDomainManager(me) {
			claim = nil
		}
	}

	// Where our records can be: the claim's zone, the zone in status, and
	// spec.zone when neither is known.
	var zones []dns.Zone
	add := func(z dns.Zone) {
		for _, have := range zones {
			if have.ID == z.ID {
				return
			}
		}
		if z.ID != "" {
			zones = append(zones, z)
		}
	}
	if claim != nil {
		add(dns.Zone{ID: claim.ZoneID, Name: claim.Zone})
	}
	add(dns.Zone{ID: dm.Status.ZoneID, Name: dm.Status.Zone})
	if len(zones) == 0 && dm.Spec.Zone != "" {
		z, err := r.Provider.FindZone(ctx, fqdn, dm.Spec.Zone)
		switch {
		case dns.KindOf(err) == dns.KindNotFound:
		case err != nil:
			return err
		default:
			add(z)
		}
	}

	owner := r.owner(cluster, dm)
	handBack := false
	if claim != nil && claim.Adopted {
		perm, _, err := r.permissions(ctx, cluster, identity)
		handBack = err != nil || !perm.DeleteAdopted
	}
	for _, z := range zones {
		var err error
		if handBack {
			err = r.handBack(ctx, rec, dm, z, owner, claim.OriginalComment)
		} else {
			err = r.deleteOwned(ctx, rec, dm, z, owner)
		}
		if err != nil {
			return err
		}
	}
	if claim != nil {
		if err := r.store.release(ctx, claim); err != nil {
			return err
		}
	}
	// Claims on a name or type it had before.
	return r.releaseStale(ctx, me, fqdn, string(dm.Spec.RecordType), dm.Status.FQDN)
}

// deleteOwned deletes every record in zone that carries owner's marker. A
// zone or record that is already gone counts as done.
func (r *Reconciler) deleteOwned(ctx context.Context, rec events.EventRecorder, dm *v1alpha1.DomainManager, zone dns.Zone, owner dns.Owner) error {
	records, err := r.Provider.Records(ctx, zone)
	if dns.KindOf(err) == dns.KindNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	for _, d := range dns.Owned(records, owner) {
		if err := r.Provider.Delete(ctx, zone, d.ID); err != nil && dns.KindOf(err) != dns.KindNotFound {
			return err
		}
		rec.Eventf(dm, nil, corev1.EventTypeNormal, "RecordDeleted", "Delete", "Deleted %s record %s", d.Type, d.Name)
	}
	return nil
}

// handBack leaves an adopted record in place as it is, with the comment it
// had before fleethub took it over, so it is unmanaged again.
func (r *Reconciler) handBack(ctx context.Context, rec events.EventRecorder, dm *v1alpha1.DomainManager, zone dns.Zone, owner dns.Owner, comment string) error {
	records, err := r.Provider.Records(ctx, zone)
	if dns.KindOf(err) == dns.KindNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	for _, d := range dns.Owned(records, owner) {
		d.Comment = comment
		if _, err := r.Provider.Update(ctx, zone, d); err != nil && dns.KindOf(err) != dns.KindNotFound {
			return err
		}
		rec.Eventf(dm, nil, corev1.EventTypeNormal, "RecordReleased", "Delete", "Left adopted %s record %s in place, unmanaged again (hub policy keeps adopted records)", d.Type, d.Name)
	}
	return nil
}
