package registration

import (
	"context"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/deploy"
	"github.com/fleethub/fleethub/pkg/membersecret"
)

// UnregisterOptions describe one removal.
type UnregisterOptions struct {
	Name       string
	Hub        *rest.Config
	HubContext string
	// Member, if nil, leaves the member untouched (for a member that is gone).
	Member        *rest.Config
	MemberContext string
	// HubNamespace and MemberNamespace default to DefaultNamespace.
	HubNamespace    string
	MemberNamespace string
	// Out receives one line per step; nil discards them.
	Out io.Writer
}

// Unregister deletes the member's Secret on the hub (the hub then disconnects
// from the member) and, given a member connection, the hub's identity in the
// member: its ClusterRoleBinding, ClusterRole and ServiceAccount, which also
// invalidates every token issued to it. The member namespace, the CRDs and all
// objects in the member (WebApps and their children included) are left alone.
// Objects already gone are not an error, so it can be re-run.
func Unregister(ctx context.Context, o UnregisterOptions) error {
	if o.HubNamespace == "" {
		o.HubNamespace = DefaultNamespace
	}
	if o.MemberNamespace == "" {
		o.MemberNamespace = DefaultNamespace
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if err := ValidateName(o.Name); err != nil {
		return err
	}
	hub := target{role: "hub", context: o.HubContext, cfg: o.Hub}
	member := target{role: "member", context: o.MemberContext, cfg: o.Member}
	if err := checkReachable(hub); err != nil {
		return err
	}
	var mc client.Client
	if o.Member != nil {
		if err := checkReachable(member); err != nil {
			return fmt.Errorf("%w; nothing was deleted (a member that is gone can be removed from the hub alone: --hub-only)", err)
		}
		var err error
		if mc, err = client.New(o.Member, client.Options{Scheme: scheme()}); err != nil {
			return fmt.Errorf("%s: %w", member, err)
		}
	}
	hc, err := client.New(o.Hub, client.Options{Scheme: scheme()})
	if err != nil {
		return fmt.Errorf("%s: %w", hub, err)
	}

	fmt.Fprintf(o.Out, "Unregistering member %q\n", o.Name)
	// The hub first: once its Secret is gone the hub stops using the member.
	secret := &corev1.Secret{}
	err = hc.Get(ctx, client.ObjectKey{Namespace: o.HubNamespace, Name: o.Name}, secret)
	switch {
	case apierrors.IsNotFound(err):
		fmt.Fprintf(o.Out, "  hub:    %s %s\n", "secret/"+o.Name, "not found (already unregistered)")
	case err != nil:
		return explain(hub, "reading secret "+o.HubNamespace+"/"+o.Name, err)
	case secret.Labels[membersecret.Label] != "true":
		return fmt.Errorf("secret %s/%s on the hub is not a member kubeconfig Secret (no label %s=true); not deleting it", o.HubNamespace, o.Name, membersecret.Label)
	default:
		if err := hc.Delete(ctx, secret, client.Preconditions{UID: &secret.UID}); client.IgnoreNotFound(err) != nil {
			return explain(hub, "deleting secret "+o.HubNamespace+"/"+o.Name, err)
		}
		fmt.Fprintf(o.Out, "  hub:    %s %s\n", "secret/"+o.Name, "deleted")
	}

	if mc == nil {
		fmt.Fprintf(o.Out, "Member-side RBAC left in place (no member context given): clusterrolebinding/%s, clusterrole/%s, serviceaccount %s/%s.\n",
			ClusterRoleBindingName, deploy.MemberClusterRoleName, o.MemberNamespace, ServiceAccountName)
		return nil
	}
	for _, obj := range []struct {
		what string
		obj  client.Object
	}{
		{"clusterrolebinding/" + ClusterRoleBindingName,
			&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: ClusterRoleBindingName}}},
		{"clusterrole/" + deploy.MemberClusterRoleName,
			&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: deploy.MemberClusterRoleName}}},
		{"serviceaccount/" + ServiceAccountName,
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: ServiceAccountName, Namespace: o.MemberNamespace}}},
	} {
		result := "deleted"
		if err := mc.Delete(ctx, obj.obj); apierrors.IsNotFound(err) {
			result = "not found"
		} else if err != nil {
			return explain(member, "deleting "+obj.what, err)
		}
		fmt.Fprintf(o.Out, "  member: %s %s\n", obj.what, result)
	}
	fmt.Fprintf(o.Out, "Left alone in the member: namespace %s, the fleethub CRDs, and every WebApp/SimpleDB/DomainManager with its children (no longer reconciled).\n", o.MemberNamespace)
	return nil
}
