package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/csaupgrade"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/apply"
)

// Member is what the core needs of a member cluster: the cached client and a
// reader that goes to the apiserver. cluster.Cluster has both.
type Member interface {
	GetClient() client.Client
	GetAPIReader() client.Reader
}

// ErrOwnerDeleting is returned instead of creating a child for a CR that is
// being deleted (or is gone): a CR being deleted never gets new children.
var ErrOwnerDeleting = errors.New("the owner is being deleted; no child is created for it")

// ConflictError says a child's name is held by an object this CR does not
// control. fleethub leaves that object untouched (spec, labels, owner
// references) and reports the conflict until the name is free.
type ConflictError struct {
	// Kind and Name of the child.
	Kind, Name string
	// Holder describes who holds the name, for humans.
	Holder string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s %s already exists and is held by %s, not by this resource; fleethub leaves it untouched: delete or rename it, or give this resource another name",
		e.Kind, e.Name, e.Holder)
}

// AsConflict returns the ConflictError in err's chain, if any.
func AsConflict(err error) (*ConflictError, bool) {
	var c *ConflictError
	ok := errors.As(err, &c)
	return c, ok
}

// ControlledBy is the default ownership test: obj has a controller
// ownerReference with owner's UID.
func ControlledBy(owner metav1.Object) func(client.Object) bool {
	return func(obj client.Object) bool { return metav1.IsControlledBy(obj, owner) }
}

// Holder describes who holds obj, for a ChildConflict message: its
// controller, the fleethub CR recorded in its ownership annotations, or the
// field manager that created it.
func Holder(obj client.Object) string {
	if ref := metav1.GetControllerOf(obj); ref != nil {
		return fmt.Sprintf("%s %s (its controller)", ref.Kind, ref.Name)
	}
	if a := obj.GetAnnotations(); a[v1alpha1.AnnotationOwnerUID] != "" {
		return fmt.Sprintf("another fleethub %s (uid %s)", a[v1alpha1.AnnotationOwnerKind], a[v1alpha1.AnnotationOwnerUID])
	}
	creator := ""
	if mf := obj.GetManagedFields(); len(mf) > 0 {
		creator = mf[0].Manager
	}
	if obj.GetLabels()[v1alpha1.LabelManagedBy] == v1alpha1.ManagedByValue {
		return "an object labelled as fleethub's that no fleethub resource controls"
	}
	if creator != "" {
		return fmt.Sprintf("an object fleethub does not manage (written by %s)", creator)
	}
	return "an object fleethub does not manage"
}

// ApplyConfig is a client-go apply configuration that can carry a UID
// precondition (every generated top-level apply configuration can).
type ApplyConfig[AC any] interface {
	runtime.ApplyConfiguration
	WithUID(types.UID) AC
}

// Child describes one child object of a CR for EnsureChild.
type Child[T client.Object, AC ApplyConfig[AC]] struct {
	// Kind names the child in messages and Events ("Deployment").
	Kind string
	// Key is the child's namespace and name.
	Key client.ObjectKey
	// Desired is what fleethub owns of the child.
	Desired AC
	// Extract is client-go's Extract<Kind>: the fields a manager owns.
	Extract func(T, string) (AC, error)
	// New returns an empty object of the child's type.
	New func() T
	// Controls decides whether a live child belongs to the owner; nil means
	// ControlledBy(owner).
	Controls func(T) bool
}

// EnsureChild makes the child match Desired, under the ownership rule:
//   - absent (in the cache and on a live read): it is created with a plain
//     Create, which cannot write onto anything, after a live read of the
//     owner confirms the owner exists and is not being deleted;
//   - present and controlled by owner: the fields fleethub owns are
//     server-side applied unless they already match, with the child's UID as
//     precondition so a child replaced meanwhile is never written;
//   - present and anything else: a *ConflictError, and nothing is written.
//
// The cache only holds fleethub's children, so a name it does not know is
// checked on the apiserver before anything is written. It returns the live
// child (nil when absent and not created) and what it did.
func EnsureChild[T client.Object, AC ApplyConfig[AC]](ctx context.Context, m Member, owner client.Object, ch Child[T, AC]) (T, apply.Result, error) {
	var none T
	controls := ch.Controls
	if controls == nil {
		isOurs := ControlledBy(owner)
		controls = func(obj T) bool { return isOurs(obj) }
	}
	live, found, err := GetChild(ctx, m, ch.Key, ch.New)
	if err != nil {
		return none, "", fmt.Errorf("reading %s %s: %w", ch.Kind, ch.Key.Name, err)
	}
	if !found {
		created, err := createChild(ctx, m, owner, ch)
		switch {
		case err == nil:
			return created, apply.Created, nil
		case !apierrors.IsAlreadyExists(err):
			return none, "", err
		}
		// Created by someone else since our read: look at it.
		live = ch.New()
		if err := m.GetAPIReader().Get(ctx, ch.Key, live); err != nil {
			return none, "", fmt.Errorf("reading %s %s: %w", ch.Kind, ch.Key.Name, err)
		}
	}
	if !controls(live) {
		return live, "", &ConflictError{Kind: ch.Kind, Name: ch.Key.Name, Holder: Holder(live)}
	}
	if !live.GetDeletionTimestamp().IsZero() {
		// Ours and on its way out: its deletion event brings us back to
		// create the next one.
		return live, apply.Unchanged, nil
	}
	res, err := ApplyOwned(ctx, m, ch.Kind, live, ch.Desired, ch.Extract)
	return live, res, err
}

// ApplyOwned server-side applies desired onto live, a child the caller has
// verified this CR controls, unless the fields fleethub owns already match.
// The apply carries live's UID as precondition, so a child deleted and
// replaced (by anyone) since it was read is never written. A child fleethub
// made with Create first has the fields of that create moved to its apply
// manager, so that a field later dropped from desired is removed from the
// child instead of staying owned by the create.
func ApplyOwned[T client.Object, AC ApplyConfig[AC]](ctx context.Context, m Member, kind string, live T, desired AC, extract func(T, string) (AC, error)) (apply.Result, error) {
	return applyOwned(ctx, m, kind, live, desired, extract, true)
}

// ApplyOwnedKeepingCreateFields is ApplyOwned for a child whose created
// fields must never become the apply manager's: a field the create set and
// desired leaves out (a generated password) stays as it is.
func ApplyOwnedKeepingCreateFields[T client.Object, AC ApplyConfig[AC]](ctx context.Context, m Member, kind string, live T, desired AC, extract func(T, string) (AC, error)) (apply.Result, error) {
	return applyOwned(ctx, m, kind, live, desired, extract, false)
}

func applyOwned[T client.Object, AC ApplyConfig[AC]](ctx context.Context, m Member, kind string, live T, desired AC, extract func(T, string) (AC, error), upgrade bool) (apply.Result, error) {
	name := live.GetName()
	takeover := createdByUs(live)
	if upgrade && hasUpdateEntry(live) {
		patch, err := csaupgrade.UpgradeManagedFieldsPatch(live, sets.New(v1alpha1.FieldManager), v1alpha1.FieldManager)
		if err != nil {
			return "", fmt.Errorf("moving the created fields of %s %s to the apply manager: %w", kind, name, err)
		}
		if len(patch) > 0 {
			if err := m.GetClient().Patch(ctx, live, client.RawPatch(types.JSONPatchType, patch)); err != nil {
				return "", fmt.Errorf("moving the created fields of %s %s to the apply manager: %w", kind, name, childChanged(err))
			}
		}
	}
	owned, err := extract(live, v1alpha1.FieldManager)
	if err != nil {
		return "", fmt.Errorf("extracting the fields %s owns on %s %s: %w", v1alpha1.FieldManager, kind, name, err)
	}
	same, err := apply.Equal(desired, owned)
	if err != nil {
		return "", err
	}
	if same {
		return apply.Unchanged, nil
	}
	if err := m.GetClient().Apply(ctx, desired.WithUID(live.GetUID()), client.FieldOwner(v1alpha1.FieldManager), client.ForceOwnership); err != nil {
		return "", fmt.Errorf("applying %s %s: %w", kind, name, childChanged(err))
	}
	if takeover {
		// The first apply after our Create only settles field ownership
		// (the create also owned the defaults the apiserver filled in);
		// nothing changed that is worth announcing.
		return apply.Unchanged, nil
	}
	return apply.Updated, nil
}

// childChanged marks the refusals of a write to a stale copy as
// ErrChildChanged: a conflict (the resourceVersion of the field ownership
// move; a forced apply has no field conflicts), and an apply whose UID is
// not the object's (the child was replaced), which the apiserver reports as
// an invalid, immutable metadata.uid rather than as a conflict. Left as it
// is, the latter would read as the member refusing the spec (Rejected).
func childChanged(err error) error {
	if apierrors.IsConflict(err) || uidMismatch(err) {
		return fmt.Errorf("%w: %w", ErrChildChanged, err)
	}
	return err
}

func uidMismatch(err error) bool {
	var status apierrors.APIStatus
	if !apierrors.IsInvalid(err) || !errors.As(err, &status) || status.Status().Details == nil {
		return false
	}
	for _, cause := range status.Status().Details.Causes {
		if cause.Field == "metadata.uid" {
			return true
		}
	}
	return false
}

// hasUpdateEntry reports whether fleethub's field manager owns fields of obj
// through a non-apply operation (its Create).
func hasUpdateEntry(obj client.Object) bool {
	for _, mf := range obj.GetManagedFields() {
		if mf.Manager == v1alpha1.FieldManager && mf.Operation == metav1.ManagedFieldsOperationUpdate && mf.Subresource == "" {
			return true
		}
	}
	return false
}

// GetChild reads a child from the cache and, when the cache has no copy,
// from the apiserver: the cache holds only what fleethub controls, so a miss
// says nothing about whether the name is free. found is false only when the
// apiserver says NotFound.
func GetChild[T client.Object](ctx context.Context, m Member, key client.ObjectKey, newObj func() T) (T, bool, error) {
	live := newObj()
	err := m.GetClient().Get(ctx, key, live)
	if err == nil {
		return live, true, nil
	}
	if !apierrors.IsNotFound(err) {
		return live, false, err
	}
	live = newObj()
	err = m.GetAPIReader().Get(ctx, key, live)
	if err == nil {
		return live, true, nil
	}
	if apierrors.IsNotFound(err) {
		return live, false, nil
	}
	return live, false, err
}

func createChild[T client.Object, AC ApplyConfig[AC]](ctx context.Context, m Member, owner client.Object, ch Child[T, AC]) (T, error) {
	return CreateFrom(ctx, m, owner, ch.Kind, ch.Desired, ch.New())
}

// CreateFrom creates exactly the object desired describes (no zero values
// a typed object would add, which the create would then own) and decodes
// the apiserver's answer into obj; see Create.
func CreateFrom[T client.Object](ctx context.Context, m Member, owner client.Object, kind string, desired runtime.ApplyConfiguration, obj T) (T, error) {
	var none T
	raw, err := json.Marshal(desired)
	if err != nil {
		return none, fmt.Errorf("encoding %s: %w", kind, err)
	}
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal(raw, &u.Object); err != nil {
		return none, fmt.Errorf("decoding %s: %w", kind, err)
	}
	if err := Create(ctx, m, owner, kind, u); err != nil {
		return none, err
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		return none, fmt.Errorf("decoding the created %s: %w", kind, err)
	}
	return obj, nil
}

// Create creates obj for owner with a plain Create (which fails if the name
// is taken, so it never writes onto anything), after OwnerAlive. An
// AlreadyExists error is returned as the apiserver sent it.
func Create(ctx context.Context, m Member, owner client.Object, kind string, obj client.Object) error {
	if err := OwnerAlive(ctx, m, owner); err != nil {
		return err
	}
	if err := m.GetClient().Create(ctx, obj, client.FieldOwner(v1alpha1.FieldManager)); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return err
		}
		return fmt.Errorf("creating %s %s: %w", kind, obj.GetName(), err)
	}
	return nil
}

// OwnerAlive reads owner from the apiserver and returns ErrOwnerDeleting if
// it is gone, replaced (another UID) or being deleted. The cached copy a
// reconcile works on can lag behind a deletion by the time the garbage
// collector has removed children; creating them again from that copy is how
// data was lost before.
func OwnerAlive(ctx context.Context, m Member, owner client.Object) error {
	fresh, ok := owner.DeepCopyObject().(client.Object)
	if !ok {
		return fmt.Errorf("cannot copy %T", owner)
	}
	err := m.GetAPIReader().Get(ctx, client.ObjectKeyFromObject(owner), fresh)
	switch {
	case apierrors.IsNotFound(err):
		return ErrOwnerDeleting
	case err != nil:
		return fmt.Errorf("reading %s: %w", owner.GetName(), err)
	case fresh.GetUID() != owner.GetUID() || !fresh.GetDeletionTimestamp().IsZero():
		return ErrOwnerDeleting
	}
	return nil
}

// createdByUs reports whether fleethub created obj (an Update entry of its
// field manager) and has not applied it yet (no Apply entry).
func createdByUs(obj client.Object) bool {
	created := false
	for _, mf := range obj.GetManagedFields() {
		if mf.Manager != v1alpha1.FieldManager {
			continue
		}
		if mf.Operation == metav1.ManagedFieldsOperationApply {
			return false
		}
		if mf.Operation == metav1.ManagedFieldsOperationUpdate {
			created = true
		}
	}
	return created
}

// DeleteChild deletes the child at key if controls says it belongs to the
// owner and it is not already terminating. The delete carries the UID that
// was checked as precondition, so an object that replaced it meanwhile is
// never deleted. It reports whether it sent a delete.
func DeleteChild(ctx context.Context, m Member, kind string, obj client.Object, controls func(client.Object) bool) (bool, error) {
	key := client.ObjectKeyFromObject(obj)
	live, found, err := GetChild(ctx, m, key, func() client.Object {
		return obj.DeepCopyObject().(client.Object)
	})
	if err != nil {
		return false, fmt.Errorf("reading %s %s: %w", kind, key.Name, err)
	}
	if !found || !controls(live) || !live.GetDeletionTimestamp().IsZero() {
		return false, nil
	}
	uid := live.GetUID()
	err = m.GetClient().Delete(ctx, live, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: &uid})
	switch {
	case apierrors.IsNotFound(err), apierrors.IsConflict(err):
		// Gone already, or replaced by an object that is not the one we checked.
		return false, nil
	case err != nil:
		return false, fmt.Errorf("deleting %s %s: %w", kind, key.Name, err)
	}
	return true, nil
}
