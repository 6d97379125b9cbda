// Package deploy embeds the generated manifests that fleethub's binaries apply
// themselves: the member ClusterRole (deploy/member/rbac/role.yaml, from the
// RBAC markers in pkg/controller) and the CRDs (deploy/crd/bases, from the API
// types). Both are produced by `make manifests`; embedding them means the
// registration CLI and the manager's CRD installation use exactly those files,
// never a hand-kept copy.
package deploy

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// MemberClusterRoleName is the name of the ClusterRole the hub is bound to in
// every member (controller-gen's roleName in the Makefile).
const MemberClusterRoleName = "fleethub-member"

const (
	memberRolePath = "member/rbac/role.yaml"
	crdDir         = "crd/bases"
)

//go:embed member/rbac/role.yaml crd/bases/*.yaml
var files embed.FS

// MemberClusterRoleYAML returns the generated member ClusterRole manifest as is.
func MemberClusterRoleYAML() []byte {
	b, err := files.ReadFile(memberRolePath)
	if err != nil {
		panic(err) // embedded at build time; cannot be missing
	}
	return b
}

// MemberClusterRole returns the ClusterRole granting exactly what the hub
// needs in a member cluster.
func MemberClusterRole() (*rbacv1.ClusterRole, error) {
	docs, err := documents(memberRolePath, MemberClusterRoleYAML())
	if err != nil {
		return nil, err
	}
	if len(docs) != 1 {
		return nil, fmt.Errorf("%s: want 1 object, found %d", memberRolePath, len(docs))
	}
	role := &rbacv1.ClusterRole{}
	if err := decodeStrict(docs[0], role); err != nil {
		return nil, fmt.Errorf("%s: %w", memberRolePath, err)
	}
	if role.Kind != "ClusterRole" || role.Name != MemberClusterRoleName {
		return nil, fmt.Errorf("%s: want ClusterRole %s, found %s %s", memberRolePath, MemberClusterRoleName, role.Kind, role.Name)
	}
	return role, nil
}

// CRDs returns fleethub's CustomResourceDefinitions, sorted by name.
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	objs, err := crdDocuments()
	if err != nil {
		return nil, err
	}
	out := make([]*apiextensionsv1.CustomResourceDefinition, 0, len(objs))
	for _, o := range objs {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := decodeStrict(o.raw, crd); err != nil {
			return nil, fmt.Errorf("%s: %w", o.file, err)
		}
		out = append(out, crd)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// CRDObjects returns the same CRDs as unstructured objects holding exactly the
// fields in the files, which is what a Server-Side Apply should send (a typed
// object would add zero values such as an empty status).
func CRDObjects() ([]*unstructured.Unstructured, error) {
	objs, err := crdDocuments()
	if err != nil {
		return nil, err
	}
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(o.raw); err != nil {
			return nil, fmt.Errorf("%s: %w", o.file, err)
		}
		if u.GetKind() != "CustomResourceDefinition" {
			return nil, fmt.Errorf("%s: want CustomResourceDefinition, found %s", o.file, u.GetKind())
		}
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, nil
}

type document struct {
	file string
	raw  []byte // JSON
}

func crdDocuments() ([]document, error) {
	entries, err := fs.ReadDir(files, crdDir)
	if err != nil {
		return nil, err
	}
	var out []document
	for _, e := range entries {
		file := path.Join(crdDir, e.Name())
		b, err := files.ReadFile(file)
		if err != nil {
			return nil, err
		}
		docs, err := documents(file, b)
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			out = append(out, document{file: file, raw: d})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no CRDs embedded from " + crdDir)
	}
	return out, nil
}

// documents splits a multi-document YAML file and converts each non-empty
// document to JSON.
func documents(file string, b []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var out [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 || string(bytes.TrimSpace(doc)) == "---" {
			continue
		}
		j, err := utilyaml.ToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if string(j) == "null" {
			continue
		}
		out = append(out, j)
	}
}

// decodeStrict fails on fields the Go type does not know, so a manifest and
// the types it is read into can never silently disagree.
func decodeStrict(raw []byte, into any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}
