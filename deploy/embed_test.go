package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

func TestMemberClusterRole(t *testing.T) {
	role, err := MemberClusterRole()
	if err != nil {
		t.Fatal(err)
	}
	if role.Name != MemberClusterRoleName || role.APIVersion != "rbac.authorization.k8s.io/v1" {
		t.Fatalf("got %s %s", role.APIVersion, role.Name)
	}
	if !allows(role.Rules, "app.54b3r.io", "webapps", "watch") || !allows(role.Rules, "apps", "deployments", "create") {
		t.Errorf("role lacks what the WebApp controller needs: %+v", role.Rules)
	}
	// The hub must never be able to escalate in a member.
	for _, bad := range [][3]string{
		{"rbac.authorization.k8s.io", "clusterroles", "create"},
		{"rbac.authorization.k8s.io", "clusterrolebindings", "create"},
		{"", "nodes", "list"},
		{"", "serviceaccounts", "create"},
		{"", "namespaces", "delete"},
	} {
		if allows(role.Rules, bad[0], bad[1], bad[2]) {
			t.Errorf("member role grants %s %s/%s", bad[2], bad[0], bad[1])
		}
	}
	for _, r := range role.Rules {
		if slices.Contains(r.Verbs, "*") || slices.Contains(r.Resources, "*") || slices.Contains(r.APIGroups, "*") {
			t.Errorf("wildcard rule in member role: %+v", r)
		}
	}
}

// The embedded file is the generated one, byte for byte.
func TestEmbeddedFilesAreTheGeneratedOnes(t *testing.T) {
	disk, err := os.ReadFile(filepath.Join("member", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if string(disk) != string(MemberClusterRoleYAML()) {
		t.Error("embedded member role differs from deploy/member/rbac/role.yaml")
	}
	onDisk, _ := filepath.Glob(filepath.Join("crd", "bases", "*.yaml"))
	crds, err := CRDs()
	if err != nil {
		t.Fatal(err)
	}
	if len(crds) != len(onDisk) {
		t.Fatalf("%d CRDs embedded, %d files in crd/bases", len(crds), len(onDisk))
	}
}

func TestCRDs(t *testing.T) {
	crds, err := CRDs()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := CRDObjects()
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != len(crds) {
		t.Fatalf("CRDs: %d typed, %d unstructured", len(crds), len(objs))
	}
	role, err := MemberClusterRole()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for i, crd := range crds {
		kinds = append(kinds, crd.Spec.Names.Kind)
		if crd.Spec.Group != "app.54b3r.io" || crd.Spec.Scope != "Namespaced" {
			t.Errorf("%s: group %s scope %s", crd.Name, crd.Spec.Group, crd.Spec.Scope)
		}
		if crd.Name != crd.Spec.Names.Plural+"."+crd.Spec.Group {
			t.Errorf("CRD name %s does not match its names", crd.Name)
		}
		if objs[i].GetName() != crd.Name {
			t.Errorf("unstructured CRD %d is %s, typed is %s", i, objs[i].GetName(), crd.Name)
		}
		if _, found := objs[i].Object["status"]; found {
			t.Errorf("%s: unstructured CRD carries a status", crd.Name)
		}
		served := false
		for _, v := range crd.Spec.Versions {
			served = served || (v.Served && v.Storage)
			if v.Subresources == nil || v.Subresources.Status == nil {
				t.Errorf("%s %s: no status subresource", crd.Name, v.Name)
			}
		}
		if !served {
			t.Errorf("%s: no served storage version", crd.Name)
		}
		// The hub watches every kind it installs, in every member, and
		// writes its status: the member role must allow both.
		for _, verb := range []string{"get", "list", "watch", "patch"} {
			if !allows(role.Rules, crd.Spec.Group, crd.Spec.Names.Plural, verb) {
				t.Errorf("member role does not allow %s on %s", verb, crd.Spec.Names.Plural)
			}
		}
		if !allows(role.Rules, crd.Spec.Group, crd.Spec.Names.Plural+"/status", "patch") {
			t.Errorf("member role does not allow patching %s/status", crd.Spec.Names.Plural)
		}
	}
	if !slices.Contains(kinds, "WebApp") {
		t.Errorf("kinds %v lack WebApp", kinds)
	}
}

func TestDocuments(t *testing.T) {
	docs, err := documents("x.yaml", []byte("---\n# comment only\n---\na: 1\n---\n\n---\nb: [2]\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(docs))
	for i, d := range docs {
		got[i] = string(d)
	}
	if strings.Join(got, "|") != `{"a":1}|{"b":[2]}` {
		t.Errorf("documents = %q", got)
	}
	if _, err := documents("bad.yaml", []byte("a: [1\n")); err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Errorf("garbage YAML: err = %v", err)
	}
}

func allows(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	for _, r := range rules {
		if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
			return true
		}
	}
	return false
}
