// Package simpledb reconciles SimpleDBs in every engaged member cluster into a
// single-node PostgreSQL: a credentials Secret, a data PersistentVolumeClaim, a
// Deployment and a Service, created in that order.
package simpledb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	mcbuilder "sigs.k8s.io/multicluster-runtime/pkg/builder"
	mcmanager "sigs.k8s.io/multicluster-runtime/pkg/manager"
	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/apply"
	"github.com/fleethub/fleethub/pkg/finalizer"
	"github.com/fleethub/fleethub/pkg/logging"
	"github.com/fleethub/fleethub/pkg/metrics"
	"github.com/fleethub/fleethub/pkg/observe"
	"github.com/fleethub/fleethub/pkg/tracing"
)

const kindName = "SimpleDB"

// Member-cluster permissions of the hub identity (deploy/member/rbac).
// +kubebuilder:rbac:groups=app.54b3r.io,resources=simpledbs,verbs=get;list;watch;patch;update
// +kubebuilder:rbac:groups=app.54b3r.io,resources=simpledbs/status,verbs=get;patch;update
// +kubebuilder:rbac:groups=app.54b3r.io,resources=simpledbs/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch;update;delete
// +kubebuilder:rbac:groups="",resources=secrets;services;persistentvolumeclaims,verbs=get;list;watch;create;patch;update;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=list
// +kubebuilder:rbac:groups=storage.k8s.io,resources=storageclasses,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconciler reconciles SimpleDBs in the member cluster each request names.
type Reconciler struct {
	Manager mcmanager.Manager
	// ResyncInterval re-reconciles a converged SimpleDB to catch drift that
	// no watch reported; it costs reads only.
	ResyncInterval time.Duration
	// ImageRepository of PostgreSQL; the tag is the SimpleDB's major version.
	// DefaultImageRepository when empty.
	ImageRepository string
	// NewPassword generates the password of a new credentials Secret;
	// GeneratePassword when nil.
	NewPassword func() (string, error)

	inv *inventory
}

// SetupWithManager registers the controller and the SimpleDB gauges.
// Options go through the builder: multicluster-runtime ignores the
// manager-level controller options. engage selects the members to watch
// (those that have the SimpleDB CRD).
func (r *Reconciler) SetupWithManager(mgr mcmanager.Manager, opts controller.TypedOptions[mcreconcile.Request], engage mcbuilder.EngageOptions) error {
	if r.inv == nil {
		r.inv = newInventory()
	}
	if err := mgr.Add(metricsRunnable{inv: r.inv}); err != nil {
		return err
	}
	return mcbuilder.ControllerManagedBy(mgr).
		Named("simpledb").
		For(&v1alpha1.SimpleDB{}, engage).
		Owns(&corev1.Secret{}, engage).
		Owns(&corev1.PersistentVolumeClaim{}, engage).
		Owns(&appsv1.Deployment{}, engage).
		Owns(&corev1.Service{}, engage).
		WithOptions(opts).
		WithLogConstructor(logging.ReconcileLogger(mgr.GetLogger(), "simpledb", "SimpleDB")).
		Complete(r)
}

// Reconcile brings one SimpleDB's children in line with its spec and reports status.
func (r *Reconciler) Reconcile(ctx context.Context, req mcreconcile.Request) (res ctrl.Result, err error) {
	ctx, done := observe.Reconcile(ctx, kindName, req)
	defer func() { done(res, err) }()
	log := ctrl.LoggerFrom(ctx)
	cl, err := r.Manager.GetCluster(ctx, req.ClusterName)
	if err != nil {
		return ctrl.Result{}, err
	}
	c := cl.GetClient()
	rec := cl.GetEventRecorder("fleethub")
	member := req.ClusterName.String()
	forget := func() {
		r.inv.forget(member, req.NamespacedName)
		metrics.Forget(member, kindName, req.String())
	}

	db := &v1alpha1.SimpleDB{}
	_, span := observe.Phase(ctx, "get")
	err = c.Get(ctx, req.NamespacedName, db)
	tracing.End(span, client.IgnoreNotFound(err))
	if err != nil {
		if apierrors.IsNotFound(err) {
			forget()
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}

	if !db.DeletionTimestamp.IsZero() {
		fctx, span := observe.Phase(ctx, "finalize")
		err := r.finalize(fctx, c, rec, db)
		tracing.End(span, err)
		if err != nil {
			return ctrl.Result{}, err
		}
		forget()
		return ctrl.Result{}, nil
	}

	if err := finalizer.Ensure(ctx, c, db); err != nil {
		return ctrl.Result{}, err
	}

	cctx, span := observe.Phase(ctx, "children")
	obs := r.ensureChildren(cctx, cl, rec, db)
	tracing.End(span, obs.ApplyErr)

	status := computeStatus(db, obs, metav1.Now())
	r.inv.observe(member, req.NamespacedName, status.Ready)
	metrics.Observe(member, kindName, req.String(), status.Ready)
	if !equality.Semantic.DeepEqual(db.Status, status) {
		old := db.Status.Conditions
		orig := db.DeepCopy()
		db.Status = status
		// The optimistic lock makes a reconcile that read a stale SimpleDB
		// fail here instead of reporting (and announcing) a transition twice.
		sctx, span := observe.Phase(ctx, "status")
		err := c.Status().Patch(sctx, db, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
		tracing.End(span, err)
		if err != nil {
			if apierrors.IsConflict(err) && obs.ApplyErr == nil {
				// The newer version's watch event brings us back.
				return ctrl.Result{RequeueAfter: r.ResyncInterval}, nil
			}
			return ctrl.Result{}, errors.Join(obs.ApplyErr, fmt.Errorf("writing status: %w", err))
		}
		emitTransitions(rec, db, old, status.Conditions)
	}

	if err := obs.ApplyErr; err != nil {
		if terminal(err) {
			// The apiserver refused what the spec asks for; retrying will not
			// help until the spec changes, which triggers a reconcile anyway.
			log.Error(err, "Children rejected by the member apiserver; waiting for a spec change")
			return ctrl.Result{RequeueAfter: r.ResyncInterval}, nil
		}
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: r.ResyncInterval}, nil
}

// ensureChildren writes the children in dependency order and stops at the
// first one that is not usable: the Deployment never exists before the Secret
// and the claim it needs.
func (r *Reconciler) ensureChildren(ctx context.Context, cl cluster.Cluster, rec events.EventRecorder, db *v1alpha1.SimpleDB) observed {
	var obs observed
	c := cl.GetClient()
	// One Event per outcome and reconcile: Events with the same reason and
	// action about the same object version would be merged into a series,
	// which costs an extra write (and retries) at the apiserver.
	var created, updated []string
	report := func(kind, name string, res apply.Result) {
		switch res {
		case apply.Created:
			created = append(created, kind+" "+name)
		case apply.Updated:
			updated = append(updated, kind+" "+name)
		}
		if res != apply.Unchanged {
			ctrl.LoggerFrom(ctx).Info("Applied child", "child", kind+"/"+name, "result", res)
		}
	}
	defer func() {
		if len(created) > 0 {
			rec.Eventf(db, nil, corev1.EventTypeNormal, "Created", "Apply", "Created %s", strings.Join(created, ", "))
		}
		if len(updated) > 0 {
			rec.Eventf(db, nil, corev1.EventTypeNormal, "Updated", "Apply", "Updated %s to match the spec", strings.Join(updated, ", "))
		}
	}()

	// 1. Credentials.
	secret, credProblem, res, err := r.ensureSecret(ctx, cl, db)
	obs.Secret, obs.Credentials = secret, credProblem
	if err != nil || credProblem != nil {
		obs.ApplyErr = err
		return obs
	}
	report("Secret", secret.Name, res)

	// 2. Data claim.
	claim, storageProblem, res, err := r.ensureClaim(ctx, cl, db)
	obs.Claim, obs.Storage = claim, storageProblem
	if err != nil {
		obs.ApplyErr = err
		return obs
	}
	if storageProblem != nil && storageProblem.Reason == v1alpha1.ReasonClaimConflict {
		return obs
	}
	report("PersistentVolumeClaim", ClaimName(db), res)
	if claim != nil && claim.Status.Phase != corev1.ClaimBound && storageProblem == nil {
		obs.ClaimEvent = claimEvent(ctx, cl.GetAPIReader(), claim)
	}

	// 3. Deployment, rolled when the credentials change.
	key := client.ObjectKey{Namespace: db.Namespace, Name: ServiceName(db)}
	dep := &appsv1.Deployment{}
	desired := Deployment(db, DeploymentOptions{
		ImageRepository:     r.ImageRepository,
		CredentialsChecksum: CredentialsChecksum(Username, string(secret.Data[KeyPassword])),
	})
	res, exists, err := apply.Ensure(ctx, c, key, dep, desired, appsv1ac.ExtractDeployment)
	if err != nil {
		obs.ApplyErr = err
		return obs
	}
	if exists {
		obs.Deployment = dep
	}
	report("Deployment", key.Name, res)

	// 4. Service.
	svc := &corev1.Service{}
	res, exists, err = apply.Ensure(ctx, c, key, svc, Service(db), corev1ac.ExtractService)
	if err != nil {
		obs.ApplyErr = err
		return obs
	}
	obs.ServiceExists = exists || res == apply.Created
	report("Service", key.Name, res)
	return obs
}

// ensureSecret makes sure the credentials Secret exists without ever
// replacing its password. Absent, it is created with a new password by a plain
// Create, which cannot overwrite anything. Present, only labels, the owner
// reference and the keys derived from spec and password are applied, with the
// Secret's UID as precondition, so an apply can never re-create a Secret
// deleted in the meantime without its password.
func (r *Reconciler) ensureSecret(ctx context.Context, cl cluster.Cluster, db *v1alpha1.SimpleDB) (*corev1.Secret, *problem, apply.Result, error) {
	c := cl.GetClient()
	key := client.ObjectKey{Namespace: db.Namespace, Name: SecretName(db)}
	live := &corev1.Secret{}
	err := c.Get(ctx, key, live)
	switch {
	case apierrors.IsNotFound(err):
		created, err := r.createSecret(ctx, c, db)
		if err == nil {
			return created, nil, apply.Created, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, nil, "", err
		}
		// It exists but our cache has not seen it (yet, or because it is not
		// labelled as ours): look at the apiserver, and never replace it.
		live = &corev1.Secret{}
		if err := cl.GetAPIReader().Get(ctx, key, live); err != nil {
			return nil, nil, "", fmt.Errorf("reading Secret %s: %w", key.Name, err)
		}
		if live.Labels[v1alpha1.LabelManagedBy] != v1alpha1.ManagedByValue {
			return nil, &problem{v1alpha1.ReasonSecretConflict, fmt.Sprintf(
				"Secret %s already exists and is not managed by fleethub, which never overwrites it: delete or rename it, or choose another SimpleDB name", key.Name)}, "", nil
		}
	case err != nil:
		return nil, nil, "", fmt.Errorf("reading Secret %s: %w", key.Name, err)
	}

	if owner := metav1.GetControllerOf(live); owner != nil && owner.UID != db.UID {
		return nil, &problem{v1alpha1.ReasonSecretConflict, fmt.Sprintf(
			"Secret %s is controlled by %s %s, not by this SimpleDB", key.Name, owner.Kind, owner.Name)}, "", nil
	}
	password := live.Data[KeyPassword]
	if len(password) == 0 {
		return nil, &problem{v1alpha1.ReasonInvalidCredentials, fmt.Sprintf(
			"Secret %s has no %q key; delete the Secret and fleethub creates a new one with a generated password", key.Name, KeyPassword)}, "", nil
	}

	desired := CredentialsSecret(db, string(password))
	owned, err := corev1ac.ExtractSecret(live, v1alpha1.FieldManager)
	if err != nil {
		return nil, nil, "", fmt.Errorf("extracting the fields %s owns on Secret %s: %w", v1alpha1.FieldManager, key.Name, err)
	}
	same, err := apply.Equal(desired, owned)
	if err != nil {
		return nil, nil, "", err
	}
	if same {
		return live, nil, apply.Unchanged, nil
	}
	// The UID makes the apply fail instead of creating a password-less
	// Secret if this one was deleted since our cache saw it.
	desired.WithUID(live.UID)
	if err := c.Apply(ctx, desired, client.FieldOwner(v1alpha1.FieldManager), client.ForceOwnership); err != nil {
		return nil, nil, "", fmt.Errorf("applying Secret %s: %w", key.Name, err)
	}
	if secretMatches(live, db, string(password)) {
		// Right after the create: the values were there, only the field
		// ownership moved to the apply manager. Nothing to announce.
		ctrl.LoggerFrom(ctx).V(1).Info("Took over the fields of the credentials Secret", "secret", key.Name)
		return live, nil, apply.Unchanged, nil
	}
	return live, nil, apply.Updated, nil
}

// secretMatches reports whether the Secret already holds every value
// CredentialsSecret applies.
func secretMatches(live *corev1.Secret, db *v1alpha1.SimpleDB, password string) bool {
	for k, v := range childLabels(db) {
		if live.Labels[k] != v {
			return false
		}
	}
	if !metav1.IsControlledBy(live, db) {
		return false
	}
	for k, v := range bindingData(db, password) {
		if !bytes.Equal(live.Data[k], v) {
			return false
		}
	}
	return true
}

func (r *Reconciler) createSecret(ctx context.Context, c client.Client, db *v1alpha1.SimpleDB) (*corev1.Secret, error) {
	gen := r.NewPassword
	if gen == nil {
		gen = GeneratePassword
	}
	password, err := gen()
	if err != nil {
		return nil, fmt.Errorf("generating a password: %w", err)
	}
	s := NewCredentialsSecret(db, password)
	if err := c.Create(ctx, s, client.FieldOwner(v1alpha1.FieldManager)); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, err
		}
		return nil, fmt.Errorf("creating Secret %s: %w", s.Name, err)
	}
	return s, nil
}

// ensureClaim applies the data claim. The request only grows, and only when
// the claim can: bound, and its StorageClass allows expansion. Otherwise the
// current request is kept and the returned problem says why.
func (r *Reconciler) ensureClaim(ctx context.Context, cl cluster.Cluster, db *v1alpha1.SimpleDB) (*corev1.PersistentVolumeClaim, *problem, apply.Result, error) {
	c := cl.GetClient()
	key := client.ObjectKey{Namespace: db.Namespace, Name: ClaimName(db)}
	live := &corev1.PersistentVolumeClaim{}
	exists := true
	if err := c.Get(ctx, key, live); err != nil {
		if !apierrors.IsNotFound(err) {
			return nil, nil, "", fmt.Errorf("reading PersistentVolumeClaim %s: %w", key.Name, err)
		}
		exists = false
	}

	size := StorageSize(db)
	var prob *problem
	if exists {
		if owner := metav1.GetControllerOf(live); owner != nil && owner.UID != db.UID {
			return live, &problem{v1alpha1.ReasonClaimConflict, fmt.Sprintf(
				"PersistentVolumeClaim %s is controlled by %s %s, not by this SimpleDB", key.Name, owner.Kind, owner.Name)}, "", nil
		}
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
	}

	desired := PersistentVolumeClaim(db, size)
	var owned *corev1ac.PersistentVolumeClaimApplyConfiguration
	if exists {
		o, err := corev1ac.ExtractPersistentVolumeClaim(live, v1alpha1.FieldManager)
		if err != nil {
			return nil, nil, "", fmt.Errorf("extracting the fields %s owns on PersistentVolumeClaim %s: %w", v1alpha1.FieldManager, key.Name, err)
		}
		owned = o
	}
	res, err := apply.Apply(ctx, c, desired, owned, exists)
	if err != nil {
		return nil, prob, "", fmt.Errorf("applying PersistentVolumeClaim %s: %w", key.Name, err)
	}
	if !exists {
		return nil, prob, res, nil
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

// finalize runs when a SimpleDB is deleted. The Deployment and Service always
// go. With deletionPolicy Retain the claim and the Secret stay, without our
// owner reference so the member's garbage collector leaves them alone, and an
// Event says so; with Delete they are deleted too. Then the CR is released.
func (r *Reconciler) finalize(ctx context.Context, c client.Client, rec events.EventRecorder, db *v1alpha1.SimpleDB) error {
	if !controllerutil.ContainsFinalizer(db, v1alpha1.Finalizer) {
		return nil
	}
	ns := db.Namespace
	for _, child := range []struct {
		obj  client.Object
		name string
	}{
		{&appsv1.Deployment{}, ServiceName(db)},
		{&corev1.Service{}, ServiceName(db)},
	} {
		if err := deleteIfControlled(ctx, c, db, child.obj, client.ObjectKey{Namespace: ns, Name: child.name}); err != nil {
			return err
		}
	}

	policy := DeletionPolicy(db)
	var kept []string
	for _, child := range []struct {
		obj  client.Object
		kind string
		name string
	}{
		{&corev1.PersistentVolumeClaim{}, "PersistentVolumeClaim", ClaimName(db)},
		{&corev1.Secret{}, "Secret", SecretName(db)},
	} {
		key := client.ObjectKey{Namespace: ns, Name: child.name}
		if policy == v1alpha1.SimpleDBDelete {
			if err := deleteIfControlled(ctx, c, db, child.obj, key); err != nil {
				return err
			}
			continue
		}
		released, err := releaseOwnership(ctx, c, db, child.obj, key)
		if err != nil {
			return err
		}
		if released {
			kept = append(kept, child.kind+" "+child.name)
		}
	}

	if err := finalizer.Remove(ctx, c, db); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // an earlier reconcile finished (and reported) it
		}
		return err
	}
	if len(kept) > 0 {
		rec.Eventf(db, nil, corev1.EventTypeNormal, v1alpha1.ReasonDataRetained, "Retain",
			"deletionPolicy is Retain: kept %s (owner references removed). A new SimpleDB named %s adopts them with the same data and password; delete them by hand to free the storage",
			strings.Join(kept, " and "), db.Name)
	}
	ctrl.LoggerFrom(ctx).Info("SimpleDB deleted", "deletionPolicy", policy, "kept", kept)
	return nil
}

func deleteIfControlled(ctx context.Context, c client.Client, db *v1alpha1.SimpleDB, obj client.Object, key client.ObjectKey) error {
	if err := c.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("reading child %s: %w", key, err)
	}
	if !metav1.IsControlledBy(obj, db) || !obj.GetDeletionTimestamp().IsZero() {
		return nil
	}
	uid := obj.GetUID()
	err := c.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: &uid})
	if client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting child %s: %w", key, err)
	}
	return nil
}

// releaseOwnership removes this SimpleDB's owner references from a child,
// guarded by its resourceVersion. It reports whether the child exists and was
// ours, i.e. is now kept.
func releaseOwnership(ctx context.Context, c client.Client, db *v1alpha1.SimpleDB, obj client.Object, key client.ObjectKey) (bool, error) {
	if err := c.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("reading child %s: %w", key, err)
	}
	refs := obj.GetOwnerReferences()
	kept := make([]metav1.OwnerReference, 0, len(refs))
	for _, ref := range refs {
		if ref.UID != db.UID {
			kept = append(kept, ref)
		}
	}
	if len(kept) == len(refs) {
		// Not ours (any more): already released by an earlier attempt, or
		// never adopted. Either way it stays.
		l := obj.GetLabels()
		return l[v1alpha1.LabelName] == componentName && l[v1alpha1.LabelInstance] == db.Name, nil
	}
	orig := obj.DeepCopyObject().(client.Object)
	obj.SetOwnerReferences(kept)
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return false, fmt.Errorf("removing the owner reference from %s: %w", key, err)
	}
	return true, nil
}

// emitTransitions records an Event when a condition worth a human's
// attention changes: Ready in either direction (after the first report), and
// a child turning unusable for a reason other than "not created yet".
func emitTransitions(rec events.EventRecorder, db *v1alpha1.SimpleDB, old, now []metav1.Condition) {
	find := func(conds []metav1.Condition, t string) metav1.Condition {
		for _, c := range conds {
			if c.Type == t {
				return c
			}
		}
		return metav1.Condition{}
	}
	was, is := find(old, v1alpha1.ConditionReady), find(now, v1alpha1.ConditionReady)
	if is.Status != was.Status && (was.Status != "" || is.Status == metav1.ConditionTrue) {
		typ := corev1.EventTypeNormal
		if is.Status != metav1.ConditionTrue {
			typ = corev1.EventTypeWarning
		}
		rec.Eventf(db, nil, typ, is.Reason, "Ready", "Ready=%s: %s", is.Status, is.Message)
	}
	waiting := map[string]bool{
		v1alpha1.ReasonClaimMissing: true, v1alpha1.ReasonSecretMissing: true,
		v1alpha1.ReasonClaimPending: true, v1alpha1.ReasonResizing: true,
	}
	for _, t := range []string{v1alpha1.ConditionCredentialsReady, v1alpha1.ConditionStorageReady} {
		was, is := find(old, t), find(now, t)
		if is.Status == metav1.ConditionFalse && (was.Status != is.Status || was.Reason != is.Reason) && !waiting[is.Reason] {
			rec.Eventf(db, nil, corev1.EventTypeWarning, is.Reason, t, "%s", is.Message)
		}
	}
	was, is = find(old, v1alpha1.ConditionDegraded), find(now, v1alpha1.ConditionDegraded)
	if is.Status == metav1.ConditionTrue && (was.Status != is.Status || was.Message != is.Message) {
		rec.Eventf(db, nil, corev1.EventTypeWarning, is.Reason, "Apply", "%s", is.Message)
	}
}

// terminal reports errors that retrying cannot fix: the apiserver rejected the object.
func terminal(err error) bool {
	return apierrors.IsInvalid(err) || apierrors.IsBadRequest(err)
}
