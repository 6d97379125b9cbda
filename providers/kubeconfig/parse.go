package kubeconfig

import (
	"fmt"
	"net/url"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/fleethub/fleethub/pkg/membersecret"
)

// MaxKubeconfigBytes bounds what the hub parses from a Secret. Real kubeconfigs
// for one member are a few KiB; anything near the Secret limit is not one.
const MaxKubeconfigBytes = 256 << 10

// Rejection reasons, reported as the member's state reason.
const (
	ReasonMissingKubeconfig    = "MissingKubeconfig"
	ReasonOversizedKubeconfig  = "OversizedKubeconfig"
	ReasonMalformedKubeconfig  = "MalformedKubeconfig"
	ReasonContextNotFound      = "ContextNotFound"
	ReasonExecPluginRefused    = "ExecPluginRefused"
	ReasonLocalFileRefused     = "LocalFileRefused"
	ReasonInsecureRefused      = "InsecureTransportRefused"
	ReasonInvalidAnnotation    = "InvalidAnnotation"
	ReasonProxyRefused         = "ProxyRefused"
	ReasonImpersonationRefused = "ImpersonationRefused"
	ReasonBasicAuthRefused     = "BasicAuthRefused"
	ReasonNoCredentials        = "NoCredentials"
	ReasonLinkLocalRefused     = "LinkLocalServerRefused"
	ReasonServerNotAllowed     = "ServerNotAllowed"
)

// Policy is what the hub operator allows in member kubeconfigs. Everything
// defaults to refused: a kubeconfig Secret is untrusted input. Exec plugins run
// programs on the hub; skipping TLS verification hands the connection to
// anyone on the path; a proxy sends the hub's credentials through a third
// party; impersonation lets a Secret pick who the hub acts as in the member;
// basic auth and anonymous users are no identity a member should trust; and
// link-local servers are cloud metadata endpoints, not apiservers.
type Policy struct {
	AllowExecPlugins   bool
	AllowInsecure      bool
	AllowProxy         bool
	AllowImpersonation bool
	AllowBasicAuth     bool
	AllowAnonymous     bool
	AllowLinkLocal     bool
	// AllowedServers, if not empty, is the only set of destinations: host
	// names (exact, case-insensitive) and IP addresses or CIDRs.
	AllowedServers []string
}

// Rejection is a kubeconfig the hub refuses, with a reason for the member state.
type Rejection struct {
	Reason  string
	Message string
}

func (r *Rejection) Error() string { return r.Message }

func reject(reason, format string, args ...any) *Rejection {
	return &Rejection{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Parse validates raw kubeconfig bytes from a member Secret and returns the
// rest.Config for its selected context (the annotation's, else current-context).
func Parse(raw []byte, contextName string, policy Policy) (*rest.Config, error) {
	if len(raw) == 0 {
		return nil, reject(ReasonMissingKubeconfig, "data key %q is missing or empty", membersecret.Key)
	}
	if len(raw) > MaxKubeconfigBytes {
		return nil, reject(ReasonOversizedKubeconfig, "kubeconfig is %d bytes; the limit is %d", len(raw), MaxKubeconfigBytes)
	}
	cfg, err := clientcmd.Load(raw)
	if err != nil {
		return nil, reject(ReasonMalformedKubeconfig, "data key %q is not a valid kubeconfig: %v", membersecret.Key, err)
	}
	if contextName == "" {
		contextName = cfg.CurrentContext
	}
	if contextName == "" {
		return nil, reject(ReasonContextNotFound, "kubeconfig has no current-context; set one or name a context with the %s annotation", membersecret.AnnotationContext)
	}
	kctx, ok := cfg.Contexts[contextName]
	if !ok {
		return nil, reject(ReasonContextNotFound, "context %q is not in the kubeconfig", contextName)
	}
	cluster, ok := cfg.Clusters[kctx.Cluster]
	if !ok {
		return nil, reject(ReasonMalformedKubeconfig, "context %q names cluster %q, which is not in the kubeconfig", contextName, kctx.Cluster)
	}
	user, ok := cfg.AuthInfos[kctx.AuthInfo]
	if !ok {
		return nil, reject(ReasonMalformedKubeconfig, "context %q names user %q, which is not in the kubeconfig", contextName, kctx.AuthInfo)
	}
	if err := checkCluster(cluster, policy); err != nil {
		return nil, err
	}
	if err := checkDestination(cluster.Server, policy); err != nil {
		return nil, err
	}
	if err := checkUser(user, policy); err != nil {
		return nil, err
	}
	rc, err := clientcmd.NewNonInteractiveClientConfig(*cfg, contextName, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
	if err != nil {
		return nil, reject(ReasonMalformedKubeconfig, "kubeconfig context %q is unusable: %v", contextName, err)
	}
	return rc, nil
}

func checkCluster(c *clientcmdapi.Cluster, policy Policy) error {
	if c.Server == "" {
		return reject(ReasonMalformedKubeconfig, "cluster has no server URL")
	}
	u, err := url.Parse(c.Server)
	if err != nil || u.Host == "" {
		return reject(ReasonMalformedKubeconfig, "server %q is not a URL", c.Server)
	}
	if c.CertificateAuthority != "" {
		return reject(ReasonLocalFileRefused, "certificate-authority refers to a file on the hub (%q); embed certificate-authority-data instead", c.CertificateAuthority)
	}
	if !policy.AllowInsecure {
		if c.InsecureSkipTLSVerify {
			return reject(ReasonInsecureRefused, "insecure-skip-tls-verify is refused; provide certificate-authority-data (or start the hub with --allow-insecure-members)")
		}
		if u.Scheme != "https" {
			return reject(ReasonInsecureRefused, "server %q is not https; plain HTTP is refused (or start the hub with --allow-insecure-members)", c.Server)
		}
	}
	if c.ProxyURL != "" && !policy.AllowProxy {
		return reject(ReasonProxyRefused, "proxy-url %q is refused: the hub's member credentials would pass through it (start the hub with --allow-member-proxy to permit it)", c.ProxyURL)
	}
	return nil
}

func checkUser(u *clientcmdapi.AuthInfo, policy Policy) error {
	var files []string
	if u.ClientCertificate != "" {
		files = append(files, "client-certificate")
	}
	if u.ClientKey != "" {
		files = append(files, "client-key")
	}
	if u.TokenFile != "" {
		files = append(files, "tokenFile")
	}
	if len(files) > 0 {
		return reject(ReasonLocalFileRefused, "user refers to files on the hub (%s); embed the data (client-certificate-data, client-key-data, token) instead", strings.Join(files, ", "))
	}
	if !policy.AllowImpersonation {
		var set []string
		if u.Impersonate != "" {
			set = append(set, "as")
		}
		if u.ImpersonateUID != "" {
			set = append(set, "as-uid")
		}
		if len(u.ImpersonateGroups) > 0 {
			set = append(set, "as-groups")
		}
		if len(u.ImpersonateUserExtra) > 0 {
			set = append(set, "as-user-extra")
		}
		if len(set) > 0 {
			return reject(ReasonImpersonationRefused, "impersonation (%s) is refused: the Secret would choose whom the hub acts as in the member (start the hub with --allow-member-impersonation to permit it)", strings.Join(set, ", "))
		}
	}
	if (u.Username != "" || u.Password != "") && !policy.AllowBasicAuth {
		return reject(ReasonBasicAuthRefused, "basic auth (username/password) is refused; use a ServiceAccount token or a client certificate (or start the hub with --allow-member-basic-auth)")
	}
	hasCredential := u.Token != "" || len(u.ClientCertificateData) > 0 && len(u.ClientKeyData) > 0 ||
		u.Exec != nil || u.AuthProvider != nil || u.Username != ""
	if !hasCredential && !policy.AllowAnonymous {
		return reject(ReasonNoCredentials, "the user has no credential (token, client certificate, plugin): the hub would connect anonymously (start the hub with --allow-anonymous-members to permit it)")
	}
	if !policy.AllowExecPlugins {
		if u.Exec != nil {
			return reject(ReasonExecPluginRefused, "exec credential plugin %q is refused: it would run a program on the hub (start the hub with --allow-exec-plugins to permit it)", u.Exec.Command)
		}
		if u.AuthProvider != nil {
			return reject(ReasonExecPluginRefused, "auth-provider %q is refused (start the hub with --allow-exec-plugins to permit it)", u.AuthProvider.Name)
		}
	}
	return nil
}
