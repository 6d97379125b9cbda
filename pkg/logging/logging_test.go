package logging

import (
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"
)

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		format, level string
		ok            bool
	}{
		{"json", "info", true}, {"text", "debug", true}, {"json", "3", true},
		{"xml", "info", false}, {"json", "loud", false},
	} {
		_, err := New(tc.format, tc.level)
		if (err == nil) != tc.ok {
			t.Errorf("New(%q, %q) error = %v, want ok=%v", tc.format, tc.level, err, tc.ok)
		}
	}
}

func TestReconcileLoggerCarriesClusterNamespaceName(t *testing.T) {
	var line string
	base := funcr.New(func(prefix, args string) { line = args }, funcr.Options{})
	ctor := ReconcileLogger(base, "webapp", "WebApp")
	req := mcreconcile.Request{Request: reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "n"}}, ClusterName: "alpha"}
	ctor(&req).Info("hello")
	for _, want := range []string{`"cluster"="alpha"`, `"namespace"="ns"`, `"name"="n"`, `"controller"="webapp"`} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %s lacks %s", line, want)
		}
	}
}
