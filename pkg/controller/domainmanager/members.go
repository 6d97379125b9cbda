package domainmanager

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/multicluster-runtime/pkg/multicluster"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/dns"
	"github.com/fleethub/fleethub/pkg/membersecret"
)

// secretIdentity is a member's identity as its Secret records it; until the
// provider has recorded the UID, the cluster (Secret) name stands in.
func secretIdentity(s *corev1.Secret) string {
	if id := s.Annotations[membersecret.AnnotationClusterIdentity]; id != "" {
		return id
	}
	return s.Name
}

// memberSecret reads a member's kubeconfig Secret from the hub cache (nil
// when it is not registered).
func (r *Reconciler) memberSecret(ctx context.Context, cluster string) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	err := r.hub.Get(ctx, client.ObjectKey{Namespace: r.HubNamespace, Name: cluster}, s)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the kubeconfig Secret of cluster %s: %w", cluster, err)
	}
	return s, nil
}

// identity is the identity of the member a reconcile runs for.
func (r *Reconciler) identity(ctx context.Context, cluster string) (string, error) {
	s, err := r.memberSecret(ctx, cluster)
	if err != nil || s == nil {
		return cluster, err
	}
	return secretIdentity(s), nil
}

// holderState finds out whether a claim's holder is still there: a member
// Secret with its identity, and in that member its DomainManager (same UID).
// Whatever cannot be checked counts as alive.
func (r *Reconciler) holderState(ctx context.Context, h dns.Holder) (dns.HolderState, error) {
	list := &corev1.SecretList{}
	if err := r.hub.List(ctx, list, client.InNamespace(r.HubNamespace), client.HasLabels{membersecret.Label}); err != nil {
		return dns.HolderState{}, fmt.Errorf("listing member Secrets: %w", err)
	}
	cluster := ""
	for i := range list.Items {
		s := &list.Items[i]
		// A holder recorded before its identity was known is named by its cluster.
		if s.Labels[membersecret.Label] == "true" && (secretIdentity(s) == h.Identity || (h.Identity == h.Cluster && s.Name == h.Cluster)) {
			cluster = s.Name
			break
		}
	}
	if cluster == "" {
		return dns.HolderState{}, nil
	}
	st := dns.HolderState{Registered: true}
	if r.Manager == nil {
		return st, nil
	}
	cl, err := r.Manager.GetCluster(ctx, multicluster.ClusterName(cluster))
	if err != nil {
		return st, nil // not engaged (yet): cannot check, so alive
	}
	key := client.ObjectKey{Namespace: h.Namespace, Name: h.Name}
	dm := &v1alpha1.DomainManager{}
	err = cl.GetCache().Get(ctx, key, dm)
	if apierrors.IsNotFound(err) {
		// Confirm live: a cache may lag behind a creation.
		err = cl.GetAPIReader().Get(ctx, key, dm)
	}
	switch {
	case apierrors.IsNotFound(err):
		st.Checked = true
	case err != nil:
		return st, nil // unreadable (no CRD, no access, timeout): alive
	default:
		st.Checked, st.Exists = true, string(dm.UID) == h.UID
	}
	return st, nil
}

// permissions is the hub policy for a member: its entry in the policy
// ConfigMap (by identity, then by cluster name), the policy's default, or the
// hub's flag default. A policy that cannot be read refuses everything.
func (r *Reconciler) permissions(ctx context.Context, cluster, identity string) (dns.Permissions, string, error) {
	fallback := dns.Permissions{AllowedSuffixes: r.DefaultAllowedSuffixes}
	if r.PolicyConfigMap == "" {
		return fallback, "hub default", nil
	}
	cm := &corev1.ConfigMap{}
	err := r.hub.Get(ctx, client.ObjectKey{Namespace: r.HubNamespace, Name: r.PolicyConfigMap}, cm)
	if apierrors.IsNotFound(err) {
		return fallback, "hub default (--dns-allowed-suffixes)", nil
	}
	if err != nil {
		return dns.Permissions{}, "", fmt.Errorf("reading the hub DNS policy: %w", err)
	}
	p, err := dns.ParsePolicy([]byte(cm.Data[PolicyKey]))
	if err != nil {
		return dns.Permissions{}, "", fmt.Errorf("%w: ConfigMap %s/%s key %s: %w", errPolicyInvalid, r.HubNamespace, r.PolicyConfigMap, PolicyKey, err)
	}
	perm, src := p.For(identity, cluster, fallback)
	return perm, fmt.Sprintf("ConfigMap %s/%s %s", r.HubNamespace, r.PolicyConfigMap, src), nil
}

// PolicyKey is the data key of the policy ConfigMap.
const PolicyKey = "policy.yaml"
