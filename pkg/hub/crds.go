package hub

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/deploy"
)

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// InstallCRDs server-side applies fleethub's own CRDs (the generated ones
// embedded in the binary) to a member. It touches no other CRD. The member
// identity needs deploy/member/crd-installer.yaml for it.
func InstallCRDs(ctx context.Context, cfg *rest.Config) error {
	objs, err := deploy.CRDObjects()
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	force := true
	for _, o := range objs {
		if _, err := dyn.Resource(crdResource).Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: v1alpha1.FieldManager, Force: force}); err != nil {
			return fmt.Errorf("applying CRD %s: %w", o.GetName(), err)
		}
	}
	return nil
}
