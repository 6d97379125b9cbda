//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/e2e/framework"
	"github.com/fleethub/fleethub/pkg/membersecret"
)

// kinds maps each fleethub kind to its CRD plural and controller package.
var kinds = map[string][2]string{
	"WebApp":        {"webapps", "webapp"},
	"SimpleDB":      {"simpledbs", "simpledb"},
	"DomainManager": {"domainmanagers", "domainmanager"},
}

// kindStatus says whether the fleet runs a kind, and if not, why. A kind
// runs when its CRD is in deploy/crd/bases and the hub reports it engaged in
// the members. broken is true when the tree wires the kind's controller into
// the hub (cmd/manager/app) and the hub built from it does not engage the kind: a
// failure, not a reason to skip.
func kindStatus(kind string) (runs bool, why string, broken bool) {
	k := kinds[kind]
	if !framework.HasCRD(k[0]) {
		return false, "deploy/crd/bases/app.54b3r.io_" + k[0] + ".yaml does not exist yet", false
	}
	engaged := engagedKinds()
	for _, m := range []string{alpha, beta} {
		if !engaged[m][kind] {
			wired := hubWires(k[1])
			switch {
			case !wired:
				return false, "the hub manager (cmd/manager/app) does not run the " + k[1] + " controller yet", false
			case os.Getenv(framework.ManagerBinaryEnv) != "":
				return false, "the prebuilt hub manager (" + framework.ManagerBinaryEnv + ") does not run " + kind, false
			default:
				return false, "cmd/manager/app wires " + k[1] + " but the hub does not engage " + kind + " in member " + m +
					" (hub reports kinds " + strings.Join(keys(engaged[m]), ",") + ")", true
			}
		}
	}
	return true, "", false
}

// requireKind fails a scenario whose kind the fleet does not run: every kind
// is wired now, so a missing one is a regression, never a reason to skip.
func requireKind(t *testing.T, kind string) {
	t.Helper()
	runs, why, broken := kindStatus(kind)
	if broken {
		t.Fatal(why)
	}
	if !runs {
		t.Fatal(why)
	}
}

// engagedKinds reads, per member, the kinds the hub reports engaged (the
// member-kinds annotation on the member's Secret).
func engagedKinds() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, m := range []string{alpha, beta} {
		out[m] = map[string]bool{}
		s := &corev1.Secret{}
		if err := fleet.Hub.Client.Get(context.Background(), client.ObjectKey{Namespace: framework.HubNamespace, Name: m}, s); err != nil {
			continue
		}
		for _, k := range strings.Split(s.Annotations[membersecret.AnnotationKinds], ",") {
			if k = strings.TrimSpace(k); k != "" {
				out[m][k] = true
			}
		}
	}
	return out
}

func hubWires(controllerPkg string) bool {
	files, _ := filepath.Glob(filepath.Join(framework.ModuleRoot(), "cmd", "manager", "app", "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		if src, err := os.ReadFile(f); err == nil && strings.Contains(string(src), "pkg/controller/"+controllerPkg+"\"") {
			return true
		}
	}
	return false
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
