package registration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/deploy"
	"github.com/fleethub/fleethub/pkg/crds"
	"github.com/fleethub/fleethub/pkg/membersecret"
)

const (
	// FieldManager is the Server-Side Apply field manager of everything the
	// CLI writes, in members and on the hub.
	FieldManager = "kubectl-fleethub"
	// DefaultNamespace is the default hub namespace and member namespace.
	DefaultNamespace = "fleethub-system"
	// ServiceAccountName is the hub's identity in every member.
	ServiceAccountName = "fleethub-hub"
	// ClusterRoleBindingName binds ServiceAccountName to the member ClusterRole.
	ClusterRoleBindingName = deploy.MemberClusterRoleName
	// DefaultTokenDuration is the requested lifetime of the hub's token.
	DefaultTokenDuration = 720 * time.Hour
	// MinTokenDuration is the shortest lifetime the TokenRequest API accepts.
	MinTokenDuration = 10 * time.Minute

	// AnnotationTokenExpiration on the hub Secret records when the token in
	// its kubeconfig expires (RFC 3339), so rotation jobs and `list -o wide`
	// can see it without decoding the token.
	AnnotationTokenExpiration = "app.54b3r.io/token-expiration"

	// kubeconfigUser names the credentials in generated kubeconfigs.
	kubeconfigUser = ServiceAccountName
	// establishTimeout bounds the wait for installed CRDs to be served.
	establishTimeout = 30 * time.Second
)

// Labels marks the objects the CLI creates in members (not on fleethub's
// children: the hub's own label is managed-by=fleethub).
var Labels = map[string]string{
	"app.kubernetes.io/managed-by": FieldManager,
	"app.kubernetes.io/part-of":    "fleethub",
}

// RegisterOptions describe one registration.
type RegisterOptions struct {
	// Name is the member's cluster name: the hub Secret's name.
	Name string
	// Member is an admin connection to the member cluster; MemberContext
	// names it in messages.
	Member        *rest.Config
	MemberContext string
	// Hub is a connection to the hub cluster; HubContext names it in messages.
	Hub        *rest.Config
	HubContext string
	// Server, if set, replaces Member.Host in the hub's kubeconfig: the hub
	// may reach the member by another address than you do.
	Server string
	// TLSServerName, if set, is the name the hub verifies the member's serving
	// certificate against (useful with Server). Default: the member
	// context's own tls-server-name, if any.
	TLSServerName string
	// HubNamespace holds member Secrets on the hub; MemberNamespace holds the
	// hub's ServiceAccount in the member. Both default to DefaultNamespace.
	HubNamespace    string
	MemberNamespace string
	// InstallCRDs applies fleethub's CRDs to the member.
	InstallCRDs bool
	// TokenDuration is the requested token lifetime (default DefaultTokenDuration).
	TokenDuration time.Duration
	// Out receives one line per step; nil discards them.
	Out io.Writer
}

// Registration is what Register did.
type Registration struct {
	// Kubeconfig is the kubeconfig stored in the hub Secret.
	Kubeconfig []byte
	// TokenExpiration is when its token expires, as the member's apiserver
	// decided (it may shorten the requested lifetime).
	TokenExpiration time.Time
	// Secret is what happened to the hub Secret: created, updated or unchanged.
	Secret string
}

func (o *RegisterOptions) defaults() error {
	if o.HubNamespace == "" {
		o.HubNamespace = DefaultNamespace
	}
	if o.MemberNamespace == "" {
		o.MemberNamespace = DefaultNamespace
	}
	if o.TokenDuration == 0 {
		o.TokenDuration = DefaultTokenDuration
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if err := ValidateName(o.Name); err != nil {
		return err
	}
	if o.Member == nil || o.Hub == nil {
		return fmt.Errorf("both a member and a hub connection are needed")
	}
	if o.TokenDuration < MinTokenDuration {
		return fmt.Errorf("token duration %s is below the minimum the TokenRequest API accepts (%s)", o.TokenDuration, MinTokenDuration)
	}
	for _, ns := range []string{o.HubNamespace, o.MemberNamespace} {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return fmt.Errorf("invalid namespace %q: %s", ns, strings.Join(errs, "; "))
		}
	}
	return nil
}

// ValidateName checks a member name: it becomes a Secret name on the hub.
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("a member name is required")
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("invalid member name %q: %s", name, strings.Join(errs, "; "))
	}
	return nil
}

// Register makes the member usable by the hub and stores its kubeconfig
// Secret on the hub. Every step is idempotent; running it again issues a new
// token and updates the Secret, which makes the hub reconnect with it.
func Register(ctx context.Context, o RegisterOptions) (*Registration, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	member := target{role: "member", context: o.MemberContext, cfg: o.Member}
	hub := target{role: "hub", context: o.HubContext, cfg: o.Hub}

	// Everything the hub will be given is checked before anything is written.
	cluster, err := hubCluster(o)
	if err != nil {
		return nil, err
	}
	if err := checkReachable(member); err != nil {
		return nil, err
	}
	if err := checkReachable(hub); err != nil {
		return nil, err
	}
	mc, err := client.New(o.Member, client.Options{Scheme: scheme()})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", member, err)
	}
	hc, err := client.New(o.Hub, client.Options{Scheme: scheme()})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", hub, err)
	}
	secret := hubSecret(o, nil, time.Time{})
	if err := hc.Apply(ctx, secret, client.FieldOwner(FieldManager), client.ForceOwnership, client.DryRunAll); err != nil {
		return nil, explainHubSecret(hub, o, err)
	}
	if err := checkNotRegisteredElsewhere(ctx, o, mc, hc, member, hub); err != nil {
		return nil, err
	}

	fmt.Fprintf(o.Out, "Registering member %q (%s) with the hub (%s, namespace %s)\n", o.Name, cluster.Server, o.Hub.Host, o.HubNamespace)
	step := func(what, result string) { fmt.Fprintf(o.Out, "  member: %s %s\n", what, result) }

	// The hub's identity in the member.
	role, err := deploy.MemberClusterRole()
	if err != nil {
		return nil, fmt.Errorf("embedded member ClusterRole: %w", err)
	}
	objects := []struct {
		what string
		obj  client.Object
		ac   runtime.ApplyConfiguration
	}{
		{"namespace/" + o.MemberNamespace, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.MemberNamespace}}, corev1ac.Namespace(o.MemberNamespace).WithLabels(Labels)},
		{"serviceaccount/" + ServiceAccountName, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: ServiceAccountName, Namespace: o.MemberNamespace}},
			corev1ac.ServiceAccount(ServiceAccountName, o.MemberNamespace).WithLabels(Labels)},
		{"clusterrole/" + role.Name, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: role.Name}}, clusterRole(role)},
		{"clusterrolebinding/" + ClusterRoleBindingName, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: ClusterRoleBindingName}},
			clusterRoleBinding(role.Name, o.MemberNamespace)},
	}
	for _, obj := range objects {
		res, err := applyObject(ctx, mc, obj.obj, obj.ac)
		if err != nil && obj.what == "clusterrolebinding/"+ClusterRoleBindingName && apierrors.IsInvalid(err) {
			// A binding's roleRef cannot change; replace one that points elsewhere.
			res, err = replaceBinding(ctx, mc, role.Name, obj.ac, err)
		}
		if err != nil {
			return nil, explain(member, "applying "+obj.what, err)
		}
		step(obj.what, res)
	}

	if o.InstallCRDs {
		if err := installCRDs(ctx, member, step); err != nil {
			return nil, err
		}
	}

	// A token with a bounded lifetime for the ServiceAccount.
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: ptr.To(int64(o.TokenDuration / time.Second)),
	}}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: ServiceAccountName, Namespace: o.MemberNamespace}}
	if err := mc.SubResource("token").Create(ctx, sa, tr); err != nil {
		return nil, explain(member, "requesting a token for serviceaccount "+o.MemberNamespace+"/"+ServiceAccountName, err)
	}
	expires := tr.Status.ExpirationTimestamp.UTC()
	note := ""
	if got := time.Until(expires).Round(time.Minute); got < o.TokenDuration-time.Minute {
		note = fmt.Sprintf(" (the member's apiserver shortened the requested %s)", o.TokenDuration)
	}
	step("token for serviceaccount/"+ServiceAccountName, "issued, expires "+expires.Format(time.RFC3339)+note)

	// The kubeconfig, stored in the labelled Secret on the hub.
	kc, err := buildKubeconfig(o.Name, cluster, tr.Status.Token)
	if err != nil {
		return nil, err
	}
	before := &corev1.Secret{}
	existed, rv, err := resourceVersion(ctx, hc, client.ObjectKey{Namespace: o.HubNamespace, Name: o.Name}, before)
	if err != nil {
		return nil, explainHubSecret(hub, o, err)
	}
	secret = hubSecret(o, kc, expires)
	if err := hc.Apply(ctx, secret, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return nil, explainHubSecret(hub, o, err)
	}
	result := "created"
	switch {
	case existed && ptr.Deref(secret.ResourceVersion, "") == rv:
		result = "unchanged"
	case existed:
		result = "updated (token rotated; the hub reconnects with it)"
	}
	fmt.Fprintf(o.Out, "  hub:    %s %s\n", "secret/"+o.Name, result)
	fmt.Fprintf(o.Out, "Member %q registered. Rotate its token before %s by running this command again.\n", o.Name, expires.Format(time.RFC3339))
	return &Registration{Kubeconfig: kc, TokenExpiration: expires, Secret: strings.Fields(result)[0]}, nil
}

// checkNotRegisteredElsewhere refuses a member the hub already knows under
// another name: the hub would refuse the second Secret (DuplicateCluster)
// anyway, and the first is what keeps working.
func checkNotRegisteredElsewhere(ctx context.Context, o RegisterOptions, mc, hc client.Client, member, hub target) error {
	ns := &corev1.Namespace{}
	if err := mc.Get(ctx, client.ObjectKey{Name: membersecret.IdentityNamespace}, ns); err != nil {
		return explain(member, "reading namespace "+membersecret.IdentityNamespace+" (the cluster's identity)", err)
	}
	list := &corev1.SecretList{}
	if err := hc.List(ctx, list, client.InNamespace(o.HubNamespace), client.MatchingLabels{membersecret.Label: "true"}); err != nil {
		return explain(hub, "listing member secrets in namespace "+o.HubNamespace, err)
	}
	for _, s := range list.Items {
		if s.Name != o.Name && s.Annotations[membersecret.AnnotationClusterIdentity] == string(ns.UID) {
			return fmt.Errorf("%s is already registered on the hub as member %q (secret %s/%s records its identity, namespace %s UID %s): re-run register with that name, or unregister it first",
				member, s.Name, o.HubNamespace, s.Name, membersecret.IdentityNamespace, ns.UID)
		}
	}
	return nil
}

func explainHubSecret(hub target, o RegisterOptions, err error) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%s: namespace %q not found: is fleethub installed there? (use --hub-namespace for another namespace): %w", hub, o.HubNamespace, err)
	}
	return explain(hub, "writing secret "+o.HubNamespace+"/"+o.Name, err)
}

// hubSecret is the member's Secret as the CLI applies it: only the label,
// the kubeconfig and the token expiry. The hub's health annotations belong
// to the hub's field manager and are left alone.
func hubSecret(o RegisterOptions, kc []byte, expires time.Time) *corev1ac.SecretApplyConfiguration {
	labels := map[string]string{membersecret.Label: "true"}
	for k, v := range Labels {
		labels[k] = v
	}
	s := corev1ac.Secret(o.Name, o.HubNamespace).WithLabels(labels)
	if kc != nil {
		s.WithData(map[string][]byte{membersecret.Key: kc}).
			WithAnnotations(map[string]string{AnnotationTokenExpiration: expires.Format(time.RFC3339)})
	}
	return s
}

func clusterRole(role *rbacv1.ClusterRole) *rbacv1ac.ClusterRoleApplyConfiguration {
	ac := rbacv1ac.ClusterRole(role.Name).WithLabels(Labels)
	for k, v := range role.Labels {
		ac.WithLabels(map[string]string{k: v})
	}
	for _, r := range role.Rules {
		ac.WithRules(rbacv1ac.PolicyRule().
			WithAPIGroups(r.APIGroups...).
			WithResources(r.Resources...).
			WithResourceNames(r.ResourceNames...).
			WithNonResourceURLs(r.NonResourceURLs...).
			WithVerbs(r.Verbs...))
	}
	return ac
}

func clusterRoleBinding(role, namespace string) *rbacv1ac.ClusterRoleBindingApplyConfiguration {
	return rbacv1ac.ClusterRoleBinding(ClusterRoleBindingName).
		WithLabels(Labels).
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("ClusterRole").WithName(role)).
		WithSubjects(rbacv1ac.Subject().WithKind(rbacv1.ServiceAccountKind).WithName(ServiceAccountName).WithNamespace(namespace))
}

func replaceBinding(ctx context.Context, c client.Client, role string, ac runtime.ApplyConfiguration, applyErr error) (string, error) {
	old := &rbacv1.ClusterRoleBinding{}
	if err := c.Get(ctx, client.ObjectKey{Name: ClusterRoleBindingName}, old); err != nil {
		return "", err
	}
	if old.RoleRef.Kind == "ClusterRole" && old.RoleRef.Name == role {
		return "", applyErr // invalid for another reason
	}
	if err := c.Delete(ctx, old, client.Preconditions{UID: &old.UID}); client.IgnoreNotFound(err) != nil {
		return "", err
	}
	if err := c.Apply(ctx, ac, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return "", err
	}
	return "replaced (its roleRef differed)", nil
}

// applyObject server-side applies ac and says whether that created the
// object, changed it or left it as it was. obj is a typed object of the
// same kind and name, used to read the object before and after.
func applyObject(ctx context.Context, c client.Client, obj client.Object, ac runtime.ApplyConfiguration) (string, error) {
	key := client.ObjectKeyFromObject(obj)
	existed, before, err := resourceVersion(ctx, c, key, obj)
	if err != nil {
		return "", err
	}
	if err := c.Apply(ctx, ac, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return "", err
	}
	_, after, err := resourceVersion(ctx, c, key, obj)
	switch {
	case err != nil:
		return "", err
	case !existed:
		return "created", nil
	case before == after:
		return "unchanged", nil
	}
	return "configured", nil
}

func resourceVersion(ctx context.Context, c client.Client, key client.ObjectKey, obj client.Object) (bool, string, error) {
	if err := c.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return false, "", nil
		}
		return false, "", err
	}
	return true, obj.GetResourceVersion(), nil
}

// installCRDs applies fleethub's own CRDs (and nothing else) and waits until
// the member serves them.
func installCRDs(ctx context.Context, member target, step func(what, result string)) error {
	err := crds.Install(ctx, member.cfg, crds.Options{FieldManager: FieldManager, EstablishTimeout: establishTimeout, Report: step})
	var se *crds.StepError
	if errors.As(err, &se) {
		return explain(member, se.Doing, se.Err)
	}
	return err
}

// hubCluster is the cluster entry of the hub's kubeconfig: the member's
// server (or the override) and the CA that verifies it, embedded.
func hubCluster(o RegisterOptions) (*clientcmdapi.Cluster, error) {
	server := o.Member.Host
	if o.Server != "" {
		server = o.Server
	}
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("member server %q is not a URL", server)
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("member server %s does not use https: the hub refuses members it cannot verify", server)
	}
	tls := o.Member.TLSClientConfig
	if tls.Insecure {
		return nil, fmt.Errorf("member context %q skips TLS verification (insecure-skip-tls-verify): the hub refuses such members; give the context the member's CA", o.MemberContext)
	}
	ca := tls.CAData
	if len(ca) == 0 && tls.CAFile != "" {
		// The CLI runs on the admin's machine: reading the CA file here is
		// what lets the hub's kubeconfig carry it inline.
		if ca, err = os.ReadFile(tls.CAFile); err != nil {
			return nil, fmt.Errorf("reading the member's CA file: %w", err)
		}
	}
	name := tls.ServerName
	if o.TLSServerName != "" {
		name = o.TLSServerName
	}
	// Without CA data the hub verifies the member with its system roots,
	// which is right for members with publicly trusted certificates.
	return &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca, TLSServerName: name}, nil
}

// buildKubeconfig is a self-contained kubeconfig: one cluster, one token
// user, one context, current.
func buildKubeconfig(name string, cluster *clientcmdapi.Cluster, token string) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = cluster
	cfg.AuthInfos[kubeconfigUser] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: kubeconfigUser}
	cfg.CurrentContext = name
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("writing kubeconfig: %w", err)
	}
	return b, nil
}
