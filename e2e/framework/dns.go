package framework

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DNS providers of the hub manager (its --dns-provider flag).
const (
	DNSCloudflare = "cloudflare"
	DNSInMemory   = "inmemory"
)

// DNSCredentialsSecret is the hub Secret holding the DNS API token (the
// manager's default --dns-credentials-secret).
const DNSCredentialsSecret = "dns-credentials"

// DNSOptions configure the hub's one DNS provider client.
type DNSOptions struct {
	// Provider is DNSCloudflare or DNSInMemory.
	Provider string `json:"provider"`
	// CloudflareAPIURL points the Cloudflare client elsewhere (a fake API).
	CloudflareAPIURL string `json:"cloudflareAPIURL,omitempty"`
	// Token is the API token put into DNSCredentialsSecret on the hub.
	Token string `json:"-"`
	// AllowedSuffixes are the domain suffixes members may claim (comma
	// separated); for the in-memory provider they are also its zones.
	AllowedSuffixes string `json:"allowedSuffixes"`
	// HubID names the hub in every record's owner marker.
	HubID string `json:"hubID"`
	// Policy is the hub DNS policy document (key policy.yaml of the
	// ConfigMap DNSPolicyConfigMap); empty leaves the hub default.
	Policy string `json:"policy,omitempty"`
}

// DNSPolicyConfigMap is the hub ConfigMap holding the DNS policy (the
// manager's default --dns-policy-configmap).
const DNSPolicyConfigMap = "fleethub-dns-policy"

// SamplePolicy lets every member claim names under suffixes and grants what
// deploy/samples uses: the zone apex and adoption of an unmanaged record.
func SamplePolicy(suffixes ...string) string {
	return fmt.Sprintf("default:\n  allowedSuffixes: [%s]\n  apex: true\n  adopt: true\n", strings.Join(suffixes, ", "))
}

// DNSEnabled reports whether the hub manager was started with the fleet's
// DNS settings (it needs a manager that has DNS flags).
func (f *Fleet) DNSEnabled(ctx context.Context) bool {
	return f.DNS != nil && f.managerHasFlag(ctx, "dns-provider")
}

func (f *Fleet) dnsArgs(ctx context.Context) []string {
	if !f.DNSEnabled(ctx) {
		return nil
	}
	d := f.DNS
	args := []string{"--dns-provider=" + d.Provider, "--dns-allowed-suffixes=" + d.AllowedSuffixes}
	if d.HubID != "" {
		args = append(args, "--dns-hub-id="+d.HubID)
	}
	if d.CloudflareAPIURL != "" {
		args = append(args, "--dns-cloudflare-api-url="+d.CloudflareAPIURL)
	}
	return args
}

// prepareDNS puts the hub's DNS policy into its ConfigMap and the API token
// into the hub's credentials Secret.
func (f *Fleet) prepareDNS(ctx context.Context) error {
	if !f.DNSEnabled(ctx) {
		return nil
	}
	if f.DNS.Policy != "" {
		f.Progress("hub: DNS policy in ConfigMap %s/%s", HubNamespace, DNSPolicyConfigMap)
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: DNSPolicyConfigMap, Namespace: HubNamespace},
			Data:       map[string]string{"policy.yaml": f.DNS.Policy},
		}
		err := f.Hub.Client.Create(ctx, cm)
		if apierrors.IsAlreadyExists(err) {
			cur := &corev1.ConfigMap{}
			if err := f.Hub.Client.Get(ctx, client.ObjectKeyFromObject(cm), cur); err != nil {
				return err
			}
			cur.Data = cm.Data
			err = f.Hub.Client.Update(ctx, cur)
		}
		if err != nil {
			return fmt.Errorf("writing the DNS policy ConfigMap: %w", err)
		}
	}
	if f.DNS.Token == "" {
		return nil
	}
	f.Progress("hub: DNS provider %s, token in Secret %s/%s", f.DNS.Provider, HubNamespace, DNSCredentialsSecret)
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: DNSCredentialsSecret, Namespace: HubNamespace},
		Data:       map[string][]byte{"apiToken": []byte(f.DNS.Token)},
	}
	err := f.Hub.Client.Create(ctx, s)
	if apierrors.IsAlreadyExists(err) {
		cur := &corev1.Secret{}
		if err := f.Hub.Client.Get(ctx, client.ObjectKeyFromObject(s), cur); err != nil {
			return err
		}
		cur.Data = s.Data
		err = f.Hub.Client.Update(ctx, cur)
	}
	if err != nil {
		return fmt.Errorf("writing the DNS credentials Secret: %w", err)
	}
	return nil
}
