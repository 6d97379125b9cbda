package reconciler

import (
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Terminal marks err as one that retrying cannot fix: controller-runtime
// neither retries it with backoff nor requeues, and the next change of the CR
// (the only thing that can fix it) triggers a reconcile anyway.
func Terminal(err error) error {
	if err == nil || IsTerminal(err) {
		return err
	}
	return reconcile.TerminalError(err)
}

// IsTerminal reports whether err is (or wraps) a terminal error.
func IsTerminal(err error) bool {
	return err != nil && errors.Is(err, reconcile.TerminalError(nil))
}

// Rejected reports whether the member's apiserver refused an object as
// invalid: the spec asks for something the member does not accept. A write
// to a child replaced since it was read (ErrChildChanged) is no refusal.
func Rejected(err error) bool {
	return !errors.Is(err, ErrChildChanged) && (apierrors.IsInvalid(err) || apierrors.IsBadRequest(err))
}
