// Package crds installs fleethub's own CustomResourceDefinitions — the
// generated ones embedded in the binaries (package deploy) — in a cluster. It
// is the one installer behind the manager's --install-crds and
// `kubectl fleethub register --install-crds`, and touches no other CRD.
package crds

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/fleethub/fleethub/deploy"
)

var resource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// Options shape one installation.
type Options struct {
	// FieldManager owns the applied fields; the apply forces ownership, so
	// a CRD edited by hand is put back.
	FieldManager string
	// EstablishTimeout, if positive, waits up to that long for each CRD to
	// be served (Established) before the next.
	EstablishTimeout time.Duration
	// Report, if set, is told each CRD ("customresourcedefinition/<name>")
	// and its outcome ("created", "configured" or "unchanged", then
	// ", established" when waited for). Finding it out
	// costs a read per CRD, so a caller that does not report sends only the
	// applies.
	Report func(what, result string)
}

// StepError is a failed step of an installation; Doing says which, for
// messages such as "permission denied applying customresourcedefinition/…".
type StepError struct {
	Doing string
	Err   error
}

func (e *StepError) Error() string { return e.Doing + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// Install server-side applies fleethub's CRDs to the cluster at cfg.
// deploy/member/crd-installer.yaml grants a member's hub identity exactly
// what this needs.
func Install(ctx context.Context, cfg *rest.Config, opts Options) error {
	objs, err := deploy.CRDObjects()
	if err != nil {
		return fmt.Errorf("embedded CRDs: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	crds := dyn.Resource(resource)
	for _, o := range objs {
		name := o.GetName()
		what := "customresourcedefinition/" + name
		before := ""
		if opts.Report != nil {
			cur, err := crds.Get(ctx, name, metav1.GetOptions{})
			switch {
			case err == nil:
				before = cur.GetResourceVersion()
			case !apierrors.IsNotFound(err):
				return &StepError{Doing: "applying " + what, Err: err}
			}
		}
		applied, err := crds.Apply(ctx, name, o, metav1.ApplyOptions{FieldManager: opts.FieldManager, Force: true})
		if err != nil {
			return &StepError{Doing: "applying " + what, Err: err}
		}
		if opts.EstablishTimeout > 0 {
			if err := waitEstablished(ctx, crds, name, opts.EstablishTimeout); err != nil {
				return &StepError{Doing: "waiting for " + what + " to be established", Err: err}
			}
		}
		if opts.Report != nil {
			result := "configured"
			switch {
			case before == "":
				result = "created"
			case before == applied.GetResourceVersion():
				result = "unchanged"
			}
			if opts.EstablishTimeout > 0 {
				result += ", established"
			}
			opts.Report(what, result)
		}
	}
	return nil
}

func waitEstablished(ctx context.Context, crds dynamic.NamespaceableResourceInterface, name string, timeout time.Duration) error {
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		crd, err := crds.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conds {
			m, ok := c.(map[string]any)
			if ok && m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
}
