package simpledb

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/apply"
	"github.com/fleethub/fleethub/pkg/reconciler"
)

// ensureClaim applies the data claim. The request only grows, and only when
// the claim can: bound, and its StorageClass allows expansion. Otherwise the
// current request is kept and the returned problem says why. A claim held
// by anything else is a *reconciler.ConflictError; a retained claim of
// another PostgreSQL major is refused (problem AdoptionRefused) and left as
// it is.
func (r *Reconciler) ensureClaim(ctx context.Context, cl cluster.Cluster, db *v1alpha1.SimpleDB) (*corev1.PersistentVolumeClaim, *problem, apply.Result, error) {
	key := client.ObjectKey{Namespace: db.Namespace, Name: ClaimName(db)}
	newClaim := func() *corev1.PersistentVolumeClaim { return &corev1.PersistentVolumeClaim{} }
	live, found, err := reconciler.GetChild(ctx, cl, key, newClaim)
	if err != nil {
		return nil, nil, "", fmt.Errorf("reading PersistentVolumeClaim %s: %w", key.Name, err)
	}
	if !found {
		created, err := reconciler.CreateFrom(ctx, cl, db, "PersistentVolumeClaim", PersistentVolumeClaim(db, StorageSize(db)), newClaim())
		if err == nil {
			return created, nil, apply.Created, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, nil, "", err
		}
		live = newClaim()
		if err := cl.GetAPIReader().Get(ctx, key, live); err != nil {
			return nil, nil, "", fmt.Errorf("reading PersistentVolumeClaim %s: %w", key.Name, err)
		}
	}

	adopting := retainedFor(db, live)
	if !ownsData(db)(live) && !adopting {
		conflict := &reconciler.ConflictError{Kind: "PersistentVolumeClaim", Name: key.Name, Holder: reconciler.Holder(live)}
		return live, &problem{v1alpha1.ReasonClaimConflict, conflict.Error()}, "", conflict
	}
	if major := live.Annotations[v1alpha1.AnnotationPostgresMajor]; major != "" && major != postgresVersion(db) {
		return live, &problem{v1alpha1.ReasonAdoptionRefused, fmt.Sprintf(
			"PersistentVolumeClaim %s holds the data of PostgreSQL %s, which PostgreSQL %s cannot open; fleethub leaves it untouched and starts no server. "+
				"Set spec.postgresVersion to %s (re-create the SimpleDB) to use the data, or move the claim away to start empty",
			key.Name, major, postgresVersion(db), major)}, "", nil
	}
	if !live.DeletionTimestamp.IsZero() {
		// Ours and going away (deleted by hand): the next one is created
		// once it is gone. Deployment would mount a terminating claim.
		return live, &problem{v1alpha1.ReasonClaimMissing, fmt.Sprintf("PersistentVolumeClaim %s is being deleted", key.Name)}, "", nil
	}

	size := StorageSize(db)
	var prob *problem
	current := live.Spec.Resources.Requests[corev1.ResourceStorage]
	switch size.Cmp(current) {
	case -1:
		// An adopted claim larger than the spec: claims never shrink.
		size = current
	case 1:
		if live.Status.Phase != corev1.ClaimBound {
			// Only bound claims can grow; the bind event brings us back.
			size = current
			break
		}
		ok, why, err := canExpand(ctx, cl.GetAPIReader(), live)
		if err != nil {
			return live, nil, "", err
		}
		if !ok {
			prob = &problem{v1alpha1.ReasonExpansionNotSupported, fmt.Sprintf(
				"PersistentVolumeClaim %s cannot grow from %s to %s: %s", key.Name, current.String(), size.String(), why)}
			size = current
		}
	}
	res, err := reconciler.ApplyOwned(ctx, cl, "PersistentVolumeClaim", live, PersistentVolumeClaim(db, size), corev1ac.ExtractPersistentVolumeClaim)
	if err != nil {
		return nil, prob, "", err
	}
	if adopting {
		ctrl.LoggerFrom(ctx).Info("Adopted the retained data claim", "claim", key.Name)
	}
	return live, prob, res, nil
}

// canExpand reports whether the claim's StorageClass allows volume expansion.
// StorageClasses are read from the apiserver, not cached: they are only
// needed when a claim should grow, and a cache would watch every class.
func canExpand(ctx context.Context, reader client.Reader, pvc *corev1.PersistentVolumeClaim) (bool, string, error) {
	name := ""
	if pvc.Spec.StorageClassName != nil {
		name = *pvc.Spec.StorageClassName
	}
	if name == "" {
		return false, "the claim has no StorageClass, and only dynamically provisioned volumes can be expanded", nil
	}
	sc := &storagev1.StorageClass{}
	if err := reader.Get(ctx, client.ObjectKey{Name: name}, sc); err != nil {
		if apierrors.IsNotFound(err) {
			return false, fmt.Sprintf("StorageClass %s does not exist", name), nil
		}
		return false, "", fmt.Errorf("reading StorageClass %s: %w", name, err)
	}
	if sc.AllowVolumeExpansion == nil || !*sc.AllowVolumeExpansion {
		return false, fmt.Sprintf("StorageClass %s does not allow volume expansion (allowVolumeExpansion is not true)", name), nil
	}
	return true, "", nil
}

// conditionReason is the syntax metav1.Condition requires of a reason.
var conditionReason = regexp.MustCompile(`^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`)

// claimEvent finds the newest Event about a claim that is not bound (the
// provisioner's "ProvisioningFailed", "WaitForFirstConsumer", ...), read from
// the apiserver by the claim's UID so the hub caches no unlabelled Events. It
// is only called while a claim is unbound. Failing to read Events only costs
// the detail, so errors are dropped.
func claimEvent(ctx context.Context, reader client.Reader, pvc *corev1.PersistentVolumeClaim) *problem {
	list := &corev1.EventList{}
	if err := reader.List(ctx, list, client.InNamespace(pvc.Namespace),
		client.MatchingFields{"involvedObject.uid": string(pvc.UID)}); err != nil {
		ctrl.LoggerFrom(ctx).V(1).Info("Cannot read the claim's Events", "claim", pvc.Name, "error", err.Error())
		return nil
	}
	return newestEvent(list.Items)
}

// newestEvent picks the most recent Warning, else the most recent Event.
func newestEvent(items []corev1.Event) *problem {
	var best *corev1.Event
	for i := range items {
		e := &items[i]
		if best == nil ||
			(e.Type == corev1.EventTypeWarning) != (best.Type == corev1.EventTypeWarning) && e.Type == corev1.EventTypeWarning ||
			(e.Type == corev1.EventTypeWarning) == (best.Type == corev1.EventTypeWarning) && eventTime(e).After(eventTime(best)) {
			best = e
		}
	}
	if best == nil {
		return nil
	}
	reason := best.Reason
	if len(reason) > 128 || !conditionReason.MatchString(reason) {
		reason = v1alpha1.ReasonClaimPending
	}
	msg := strings.TrimSpace(best.Message)
	if len(msg) > 1024 {
		msg = msg[:1024] + "…"
	}
	return &problem{Reason: reason, Message: msg}
}

func eventTime(e *corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}
