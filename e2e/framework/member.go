package framework

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/fleethub/fleethub/e2e/backend"
)

// FieldOwner is the Server-Side Apply field manager of everything the e2e
// framework applies.
const FieldOwner = "fleethub-e2e"

// HubServiceAccount is the member-side identity the hub uses: a
// ServiceAccount in HubNamespace bound to every ClusterRole in deploy/member.
const HubServiceAccount = "fleethub-hub"

// Storage for members without a default StorageClass (kwok, and kind nodes
// built without a provisioner): a default class with static binding and a
// pool of matching volumes, which the real kube-controller-manager binds to
// claims as a provisioner would.
const (
	StorageClassName = "fleethub-e2e"
	pvPoolSize       = 16
	pvCapacity       = "20Gi"
)

// PrepareMember makes a cluster a fleethub member: the CRDs, the member RBAC
// from deploy/member bound to the hub's ServiceAccount, and storage.
func PrepareMember(ctx context.Context, c *Cluster) error { return PrepareMemberNodes(ctx, c, nil) }

// PrepareMemberNodes is PrepareMember for a cluster whose nodes can run
// commands (nil: simulated nodes).
func PrepareMemberNodes(ctx context.Context, c *Cluster, nodes backend.NodeCommander) error {
	root := ModuleRoot()
	crds, err := ApplyDir(ctx, c.Client, filepath.Join(root, "deploy", "crd", "bases"), "")
	if err != nil {
		return fmt.Errorf("applying CRDs: %w", err)
	}
	if err := waitCRDsEstablished(ctx, c.Client, crds); err != nil {
		return err
	}
	if err := ensureNamespace(ctx, c.Client, HubNamespace); err != nil {
		return err
	}
	rbac, err := ApplyDir(ctx, c.Client, filepath.Join(root, "deploy", "member"), "")
	if err != nil {
		return fmt.Errorf("applying deploy/member: %w", err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: HubServiceAccount, Namespace: HubNamespace}}
	if err := createIfMissing(ctx, c.Client, sa); err != nil {
		return err
	}
	// deploy/member normally binds the hub's identity itself; bind it here
	// only when it does not, so the hub gets exactly deploy/member's rights.
	var roles []string
	bound := false
	for _, o := range rbac {
		switch o.GetKind() {
		case "ClusterRole":
			roles = append(roles, o.GetName())
		case "ClusterRoleBinding":
			bound = true
		}
	}
	if len(roles) == 0 {
		return errors.New("deploy/member has no ClusterRole for the hub")
	}
	for _, role := range roles {
		if bound {
			break
		}
		crb := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: HubServiceAccount + "-" + role},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: HubServiceAccount, Namespace: HubNamespace}},
		}
		if err := createIfMissing(ctx, c.Client, crb); err != nil {
			return err
		}
	}
	return ensureStorage(ctx, c, nodes)
}

// ensureStorage adds a default StorageClass and a volume pool unless the
// cluster already has a default class with a provisioner (kind's own, for
// example). On backends with real nodes the volumes' directories are made
// beforehand, writable for any user: a hostPath directory the kubelet creates
// belongs to root, and PostgreSQL runs as its own user.
func ensureStorage(ctx context.Context, cl *Cluster, nodes backend.NodeCommander) error {
	c := cl.Client
	var classes storagev1.StorageClassList
	if err := c.List(ctx, &classes); err != nil {
		return err
	}
	for _, sc := range classes.Items {
		if sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true" && sc.Name != StorageClassName &&
			sc.Provisioner != "kubernetes.io/no-provisioner" && sc.Provisioner != "kubernetes.io/host-path" {
			return nil
		}
	}
	immediate := storagev1.VolumeBindingImmediate
	sc := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{
			Name:        StorageClassName,
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"},
		},
		Provisioner:       "kubernetes.io/no-provisioner",
		VolumeBindingMode: &immediate,
	}
	if err := createIfMissing(ctx, c, sc); err != nil {
		return err
	}
	dirOrCreate := corev1.HostPathDirectoryOrCreate
	if nodes != nil {
		var dirs []string
		for i := range pvPoolSize {
			dirs = append(dirs, pvDir(i))
		}
		if err := nodes.NodeExec(ctx, cl.BackendName, append([]string{"mkdir", "-p", "-m", "0777"}, dirs...)...); err != nil {
			return fmt.Errorf("making the volume pool's directories: %w", err)
		}
	}
	for i := range pvPoolSize {
		name := fmt.Sprintf("%s-%02d", StorageClassName, i)
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(pvCapacity)},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				StorageClassName:              StorageClassName,
				PersistentVolumeSource: corev1.PersistentVolumeSource{
					HostPath: &corev1.HostPathVolumeSource{Path: pvDir(i), Type: &dirOrCreate},
				},
			},
		}
		if err := createIfMissing(ctx, c, pv); err != nil {
			return err
		}
	}
	return nil
}

func pvDir(i int) string { return fmt.Sprintf("/var/local/%s/%02d", StorageClassName, i) }

// ApplyDir server-side applies every object in the YAML files under dir
// (recursively, skipping kustomization files), in file order. Objects without
// a namespace that need one get namespace. It returns what it applied.
func ApplyDir(ctx context.Context, c client.Client, dir, namespace string) ([]*unstructured.Unstructured, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if !d.IsDir() && (strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) && name != "kustomization.yaml" {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var all []*unstructured.Unstructured
	for _, f := range files {
		objs, err := ApplyFile(ctx, c, f, namespace)
		if err != nil {
			return all, err
		}
		all = append(all, objs...)
	}
	return all, nil
}

// ApplyFile server-side applies every object in one YAML file.
func ApplyFile(ctx context.Context, c client.Client, path, namespace string) ([]*unstructured.Unstructured, error) {
	objs, err := ReadObjects(path)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		if err := Apply(ctx, c, o, namespace); err != nil {
			return nil, fmt.Errorf("%s: %s %s: %w", filepath.Base(path), o.GetKind(), o.GetName(), err)
		}
	}
	return objs, nil
}

// ReadObjects decodes the Kubernetes objects in a YAML file; Kustomization
// documents are skipped.
func ReadObjects(path string) ([]*unstructured.Unstructured, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(u.Object) == 0 || u.GetKind() == "" || u.GetKind() == "Kustomization" {
			continue
		}
		out = append(out, u)
	}
}

// Apply server-side applies one object, setting namespace when the object
// is namespaced and names none.
func Apply(ctx context.Context, c client.Client, o *unstructured.Unstructured, namespace string) error {
	if namespace != "" && o.GetNamespace() == "" {
		namespaced, err := c.IsObjectNamespaced(o)
		if err != nil {
			return err
		}
		if namespaced {
			o.SetNamespace(namespace)
		}
	}
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner(FieldOwner), client.ForceOwnership)
}

func waitCRDsEstablished(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		name := o.GetName()
		err := backend.Poll(ctx, 60*time.Second, 200*time.Millisecond, func() error {
			crd := &unstructured.Unstructured{}
			crd.SetGroupVersionKind(o.GroupVersionKind())
			if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
				return err
			}
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, raw := range conds {
				cond, _ := raw.(map[string]any)
				if cond["type"] == "Established" && cond["status"] == "True" {
					return nil
				}
			}
			return fmt.Errorf("CRD %s not established", name)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// HasCRD reports whether the fleet's CRD bundle defines the plural resource
// of the fleethub group (for example "simpledbs"), so scenarios for kinds not
// built yet can be skipped.
func HasCRD(plural string) bool {
	_, err := os.Stat(filepath.Join(ModuleRoot(), "deploy", "crd", "bases", "app.54b3r.io_"+plural+".yaml"))
	return err == nil
}

// GVK of a fleethub kind.
func GVK(kind string) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: "app.54b3r.io", Version: "v1alpha1", Kind: kind}
}

func ensureNamespace(ctx context.Context, c client.Client, name string) error {
	return createIfMissing(ctx, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
}

func createIfMissing(ctx context.Context, c client.Client, o client.Object) error {
	if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
	}
	return nil
}

// ApplyKustomization builds a kustomization directory (kustomize's Go API)
// and server-side applies the result, namespaces first.
func ApplyKustomization(ctx context.Context, c client.Client, dir string) ([]*unstructured.Unstructured, error) {
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var objs []*unstructured.Unstructured
	for _, r := range rm.Resources() {
		m, err := r.Map()
		if err != nil {
			return nil, err
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
	sort.SliceStable(objs, func(i, j int) bool {
		return objs[i].GetKind() == "Namespace" && objs[j].GetKind() != "Namespace"
	})
	for _, o := range objs {
		if err := Apply(ctx, c, o, ""); err != nil {
			return objs, fmt.Errorf("%s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	return objs, nil
}
