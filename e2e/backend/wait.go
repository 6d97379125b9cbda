package backend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// RESTConfig parses a kubeconfig into a rest.Config.
func RESTConfig(kubeconfig []byte) (*rest.Config, error) {
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("parsing kubeconfig: %w", err)
	}
	return cfg, nil
}

// Serving reports whether the apiserver behind cfg answers /readyz with ok.
func Serving(ctx context.Context, cfg *rest.Config) error {
	c := rest.CopyConfig(cfg)
	c.Timeout = 5 * time.Second
	rc, err := rest.UnversionedRESTClientFor(withCodec(c))
	if err != nil {
		return err
	}
	body, err := rc.Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return err
	}
	if string(body) != "ok" {
		return fmt.Errorf("/readyz answered %q", body)
	}
	return nil
}

// WaitServing polls until the apiserver serves or timeout passes.
func WaitServing(ctx context.Context, cfg *rest.Config, timeout time.Duration) error {
	return Poll(ctx, timeout, time.Second/2, func() error { return Serving(ctx, cfg) })
}

// WaitDown polls until the apiserver no longer answers at all.
func WaitDown(ctx context.Context, cfg *rest.Config, timeout time.Duration) error {
	return Poll(ctx, timeout, time.Second/2, func() error {
		if err := Serving(ctx, cfg); err == nil {
			return fmt.Errorf("apiserver at %s still serves", cfg.Host)
		}
		return nil
	})
}

// Permanent wraps an error that Poll must not retry.
func Permanent(err error) error { return &permanentError{err} }

type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

// Poll calls check every interval until it returns nil, ctx ends or timeout
// passes; the error names the last failure.
func Poll(ctx context.Context, timeout, interval time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			return perm.err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-time.After(interval):
		}
	}
}

// FlattenKubeconfig loads the kubeconfig file at path, inlines every file it
// references (certificates, keys) and renames its current context, cluster
// and user to name, so the result can be copied anywhere.
func FlattenKubeconfig(path, name string) ([]byte, error) {
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return nil, err
	}
	if err := clientcmdapi.FlattenConfig(cfg); err != nil {
		return nil, fmt.Errorf("inlining the files %s references: %w", path, err)
	}
	ctx, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok {
		return nil, fmt.Errorf("%s: current context %q not found", path, cfg.CurrentContext)
	}
	cluster, user := cfg.Clusters[ctx.Cluster], cfg.AuthInfos[ctx.AuthInfo]
	if cluster == nil || user == nil {
		return nil, fmt.Errorf("%s: context %q names a missing cluster or user", path, cfg.CurrentContext)
	}
	out := clientcmdapi.NewConfig()
	out.Clusters[name] = cluster
	out.AuthInfos[name] = user
	out.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	out.CurrentContext = name
	return clientcmd.Write(*out)
}
