package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ErrStatusConflict is wrapped by PatchStatus when the CR changed since it
// was read: the status computed from the stale copy is dropped.
var ErrStatusConflict = errors.New("the object changed since it was read; its status was not written")

// ErrChildChanged is wrapped when a write to a child was refused because the
// child changed, or was replaced, since the reconcile read it (the field
// ownership move carries its resourceVersion, the apply its UID): the next
// reconcile reads it again.
var ErrChildChanged = errors.New("the child changed since it was read; it was not written")

// ConflictRequeue is how soon a reconcile whose status write conflicted runs
// again. The newer version's watch event usually comes first.
const ConflictRequeue = time.Second

// PatchStatus writes obj's status as a merge patch against orig, the copy the
// reconcile read. It writes nothing when the status is semantically the same
// (the JSON of the two differs nowhere under "status"), so a resync of an
// unchanged object costs no request. The patch carries orig's resourceVersion
// (optimistic lock): a reconcile that read a stale copy can neither overwrite
// a newer status nor announce a transition twice; it gets ErrStatusConflict.
// It reports whether it wrote.
func PatchStatus(ctx context.Context, c client.Client, orig, obj client.Object) (bool, error) {
	changed, err := statusChanged(orig, obj)
	if err != nil || !changed {
		return false, err
	}
	err = c.Status().Patch(ctx, obj, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
	switch {
	case apierrors.IsConflict(err):
		return false, fmt.Errorf("writing status: %w: %w", ErrStatusConflict, err)
	case err != nil:
		return false, fmt.Errorf("writing status: %w", err)
	}
	return true, nil
}

// statusChanged reports whether the merge patch from orig to obj touches status.
func statusChanged(orig, obj client.Object) (bool, error) {
	data, err := client.MergeFrom(orig).Data(obj)
	if err != nil {
		return false, fmt.Errorf("computing the status patch: %w", err)
	}
	var patch map[string]json.RawMessage
	if err := json.Unmarshal(data, &patch); err != nil {
		return false, fmt.Errorf("decoding the status patch: %w", err)
	}
	_, ok := patch["status"]
	return ok, nil
}

// Result is the one policy that turns a reconcile's outcome into what
// controller-runtime gets:
//   - nil: come back after resync (reads only, to catch drift no watch saw);
//   - a status or child conflict: come back in ConflictRequeue, quietly —
//     the world changed under us, and whatever else failed is seen again then;
//   - a terminal error: returned as is; controller-runtime logs it and waits
//     for the next change of the CR;
//   - anything else: returned, so the controller retries with backoff.
func Result(resync time.Duration, err error) (ctrl.Result, error) {
	switch {
	case err == nil:
		return ctrl.Result{RequeueAfter: resync}, nil
	case errors.Is(err, ErrStatusConflict), errors.Is(err, ErrChildChanged):
		return ctrl.Result{RequeueAfter: ConflictRequeue}, nil
	}
	return ctrl.Result{}, err
}
