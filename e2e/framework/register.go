package framework

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/e2e/backend"
	"github.com/fleethub/fleethub/pkg/membersecret"
)

// TokenLifetime bounds the hub's token for a member registered by Secret.
// The demo and the e2e suite live far shorter; a long-lived fleet would
// re-register (kubectl-fleethub register rotates the token).
const TokenLifetime = 7 * 24 * time.Hour

// Register makes a member known to the hub: with `kubectl-fleethub register`
// when the tree has that command, otherwise the way any platform team can,
// by creating the labelled kubeconfig Secret (with a token of the hub's
// member ServiceAccount) in the hub namespace.
func (f *Fleet) Register(ctx context.Context, member string) error {
	m := f.Member(member)
	if m == nil {
		return fmt.Errorf("no member %q", member)
	}
	if f.pluginSupports(ctx, "register", "member-context") {
		f.Progress("registering %s with kubectl-fleethub register", member)
		args := []string{"register", member, "--member-context", member, "--hub-context", HubName}
		if server := f.memberServer(ctx, m); server != "" {
			args = append(args, "--server", server)
		}
		return f.plugin(ctx, args...)
	}
	f.Progress("registering %s: kubeconfig Secret %s/%s on the hub", member, HubNamespace, member)
	kc, err := f.MemberKubeconfig(ctx, member)
	if err != nil {
		return err
	}
	return PutMemberSecret(ctx, f.Hub.Client, member, kc)
}

// Unregister removes a member from the hub (its Secret); the member's own
// objects are left alone.
func (f *Fleet) Unregister(ctx context.Context, member string) error {
	if f.pluginSupports(ctx, "unregister", "member-context") {
		f.Progress("unregistering %s with kubectl-fleethub unregister", member)
		return f.plugin(ctx, "unregister", member, "--member-context", member, "--hub-context", HubName)
	}
	f.Progress("unregistering %s: deleting its Secret on the hub", member)
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: member, Namespace: HubNamespace}}
	return client.IgnoreNotFound(f.Hub.Client.Delete(ctx, s))
}

// MemberKubeconfig is the kubeconfig the hub uses for a member: the member's
// apiserver as the hub sees it, and a bounded token of HubServiceAccount,
// which has exactly the member RBAC of deploy/member.
func (f *Fleet) MemberKubeconfig(ctx context.Context, member string) ([]byte, error) {
	m := f.Member(member)
	if m == nil {
		return nil, fmt.Errorf("no member %q", member)
	}
	admin, err := f.Backend.Kubeconfig(ctx, m.BackendName, f.HubView)
	if err != nil {
		return nil, err
	}
	cfg, err := backend.RESTConfig(admin)
	if err != nil {
		return nil, err
	}
	secs := int64(TokenLifetime / time.Second)
	tr, err := m.Clientset.CoreV1().ServiceAccounts(HubNamespace).CreateToken(ctx, HubServiceAccount,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs}}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("requesting a token for %s/%s in %s: %w", HubNamespace, HubServiceAccount, member, err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters[member] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos[member] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	kc.Contexts[member] = &clientcmdapi.Context{Cluster: member, AuthInfo: member}
	kc.CurrentContext = member
	return clientcmd.Write(*kc)
}

// PutMemberSecret creates or updates the labelled kubeconfig Secret of a member.
func PutMemberSecret(ctx context.Context, hubClient client.Client, name string, kubeconfigData []byte) error {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: HubNamespace}}
	err := hubClient.Get(ctx, client.ObjectKeyFromObject(s), s)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	s.Labels[membersecret.Label] = "true"
	s.Data = map[string][]byte{membersecret.Key: kubeconfigData}
	if apierrors.IsNotFound(err) {
		return hubClient.Create(ctx, s)
	}
	return hubClient.Update(ctx, s)
}

// WaitEngaged waits until the hub reports the member Ready (the state
// annotation the hub keeps on the member's Secret). It only reports: the
// scenarios check real convergence themselves.
func (f *Fleet) WaitEngaged(ctx context.Context, member string, timeout time.Duration) {
	err := backend.Poll(ctx, timeout, 250*time.Millisecond, func() error {
		s := &corev1.Secret{}
		if err := f.Hub.Client.Get(ctx, client.ObjectKey{Namespace: HubNamespace, Name: member}, s); err != nil {
			return err
		}
		if st := s.Annotations[membersecret.AnnotationState]; st != string(membersecret.StateReady) {
			return fmt.Errorf("hub reports member state %q (%s: %s)", st,
				s.Annotations[membersecret.AnnotationReason], s.Annotations[membersecret.AnnotationMessage])
		}
		return nil
	})
	if err != nil {
		f.Progress("member %s: %v (continuing)", member, err)
		return
	}
	f.Progress("member %s is Ready on the hub", member)
}

// memberServer is the --server override for the registration plugin: only
// needed when the hub reaches members by another address than this machine.
func (f *Fleet) memberServer(ctx context.Context, m *Cluster) string {
	if f.HubView == backend.Host {
		return ""
	}
	kc, err := f.Backend.Kubeconfig(ctx, m.BackendName, f.HubView)
	if err != nil {
		return ""
	}
	cfg, err := backend.RESTConfig(kc)
	if err != nil {
		return ""
	}
	return cfg.Host
}

// pluginSupports reports whether kubectl-fleethub exists and its subcommand
// documents flag (named without dashes); an older or different plugin falls
// back to Secrets.
func (f *Fleet) pluginSupports(ctx context.Context, sub, flag string) bool {
	if f.Bins.Plugin == "" {
		return false
	}
	cmd := exec.CommandContext(ctx, f.Bins.Plugin, sub, "--help")
	out, _ := cmd.CombinedOutput()
	return bytes.Contains(out, []byte("-"+flag+" "))
}

func (f *Fleet) plugin(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, f.Bins.Plugin, append(args, "--kubeconfig", f.KubeconfigPath())...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("kubectl-fleethub %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}
