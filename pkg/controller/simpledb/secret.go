package simpledb

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/apply"
	"github.com/fleethub/fleethub/pkg/reconciler"
)

// ensureSecret makes sure the credentials Secret exists without ever
// replacing its password. Absent, it is created with a new password by a plain
// Create, which cannot overwrite anything. Present and ours (or retained for
// this name), only labels, ownership and the keys derived from spec and
// password are applied, with the Secret's UID as precondition, so an apply
// can never re-create a Secret deleted in the meantime without its password.
// Held by anything else, it is left alone: a *reconciler.ConflictError.
func (r *Reconciler) ensureSecret(ctx context.Context, cl cluster.Cluster, db *v1alpha1.SimpleDB) (*corev1.Secret, *problem, apply.Result, error) {
	key := client.ObjectKey{Namespace: db.Namespace, Name: SecretName(db)}
	newSecret := func() *corev1.Secret { return &corev1.Secret{} }
	live, found, err := reconciler.GetChild(ctx, cl, key, newSecret)
	if err != nil {
		return nil, nil, "", fmt.Errorf("reading Secret %s: %w", key.Name, err)
	}
	if !found {
		created, err := r.createSecret(ctx, cl, db)
		if err == nil {
			return created, nil, apply.Created, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, nil, "", err
		}
		live = newSecret()
		if err := cl.GetAPIReader().Get(ctx, key, live); err != nil {
			return nil, nil, "", fmt.Errorf("reading Secret %s: %w", key.Name, err)
		}
	}

	adopting := retainedFor(db, live)
	if !ownsData(db)(live) && !adopting {
		conflict := &reconciler.ConflictError{Kind: "Secret", Name: key.Name, Holder: reconciler.Holder(live)}
		return nil, &problem{v1alpha1.ReasonSecretConflict, conflict.Error()}, "", conflict
	}
	password := live.Data[KeyPassword]
	if len(password) == 0 {
		return nil, &problem{v1alpha1.ReasonInvalidCredentials, fmt.Sprintf(
			"Secret %s has no %q key; delete the Secret and fleethub creates a new one with a generated password", key.Name, KeyPassword)}, "", nil
	}
	if adopting && !live.GetDeletionTimestamp().IsZero() {
		return nil, &problem{v1alpha1.ReasonSecretMissing, fmt.Sprintf("Secret %s is being deleted", key.Name)}, "", nil
	}
	res, err := reconciler.ApplyOwnedKeepingCreateFields(ctx, cl, "Secret", live, CredentialsSecret(db, string(password)), corev1ac.ExtractSecret)
	if err != nil {
		return nil, nil, "", err
	}
	if adopting {
		ctrl.LoggerFrom(ctx).Info("Adopted the retained credentials Secret", "secret", key.Name)
	}
	return live, nil, res, nil
}

func (r *Reconciler) createSecret(ctx context.Context, cl cluster.Cluster, db *v1alpha1.SimpleDB) (*corev1.Secret, error) {
	gen := r.NewPassword
	if gen == nil {
		gen = GeneratePassword
	}
	password, err := gen()
	if err != nil {
		return nil, fmt.Errorf("generating a password: %w", err)
	}
	s := NewCredentialsSecret(db, password)
	if err := reconciler.Create(ctx, cl, db, "Secret", s); err != nil {
		return nil, err
	}
	return s, nil
}
