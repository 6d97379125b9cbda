package v1alpha1_test

// The print columns of every kind, as a real kube-apiserver serves them to
// `kubectl get` (the Table form of a list): the generated CRDs are installed
// into envtest, objects with a known spec and status are written, and the
// server's columns and cells are compared with what the README promises.

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/cmd/manager/app/fleettest"
)

// column is one column of a Table as kubectl sees it; priority 1 columns
// show only with -o wide.
type column struct {
	name, typ string
	priority  int32
}

func TestPrintColumns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kube-apiserver")
	}
	fleettest.SetupLogging()
	assets, err := fleettest.BinaryAssets()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "deploy", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		// Generous: CI machines are small and shared.
		ControlPlaneStartTimeout: 3 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const ns = "default"
	now := metav1.Now()
	ready := func(status metav1.ConditionStatus, reason string) []metav1.Condition {
		return []metav1.Condition{{Type: "Ready", Status: status, Reason: reason, Message: "set by the test", LastTransitionTime: now}}
	}

	web := &v1alpha1.WebApp{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: ns},
		Spec:       v1alpha1.WebAppSpec{Image: "nginx:1.27", Replicas: ptr(int32(3))},
	}
	db := &v1alpha1.SimpleDB{
		ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: ns},
		Spec:       v1alpha1.SimpleDBSpec{PostgresVersion: "17", StorageSize: ptr(resource.MustParse("10Gi"))},
	}
	dm := &v1alpha1.DomainManager{
		ObjectMeta: metav1.ObjectMeta{Name: "www", Namespace: ns},
		Spec:       v1alpha1.DomainManagerSpec{DomainName: "www.example.com", RecordType: "A", Value: "192.0.2.10"},
	}
	for _, obj := range []client.Object{web, db, dm} {
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("creating %T: %v", obj, err)
		}
	}
	web.Status = v1alpha1.WebAppStatus{Replicas: 3, AvailableReplicas: 2, Conditions: ready(metav1.ConditionFalse, "Progressing")}
	db.Status = v1alpha1.SimpleDBStatus{Ready: true, Endpoint: "orders.default.svc:5432", Conditions: ready(metav1.ConditionTrue, "Available")}
	dm.Status = v1alpha1.DomainManagerStatus{Conditions: ready(metav1.ConditionFalse, "Conflict")}
	for _, obj := range []client.Object{web, db, dm} {
		if err := c.Status().Update(ctx, obj); err != nil {
			t.Fatalf("writing the status of %T: %v", obj, err)
		}
	}

	for _, tc := range []struct {
		resource string
		columns  []column
		// cells of the one row, Age left out (it is the object's age).
		cells []string
	}{{
		resource: "webapps",
		columns: []column{{"Name", "string", 0}, {"Image", "string", 0}, {"Replicas", "integer", 0},
			{"Available", "integer", 0}, {"Ready", "string", 0}, {"Age", "date", 0}},
		cells: []string{"shop", "nginx:1.27", "3", "2", "False"},
	}, {
		resource: "simpledbs",
		columns: []column{{"Name", "string", 0}, {"Version", "string", 0}, {"Storage", "string", 0},
			{"Ready", "boolean", 0}, {"Endpoint", "string", 1}, {"Reason", "string", 1}, {"Age", "date", 0}},
		cells: []string{"orders", "17", "10Gi", "true", "orders.default.svc:5432", "Available"},
	}, {
		resource: "domainmanagers",
		columns: []column{{"Name", "string", 0}, {"Domain", "string", 0}, {"Type", "string", 0},
			{"Value", "string", 0}, {"Ready", "string", 0}, {"Reason", "string", 1}, {"Age", "date", 0}},
		cells: []string{"www", "www.example.com", "A", "192.0.2.10", "False", "Conflict"},
	}} {
		t.Run(tc.resource, func(t *testing.T) {
			table := getTable(t, ctx, cfg, "/apis/"+v1alpha1.GroupVersion.String()+"/namespaces/"+ns+"/"+tc.resource)
			var got []column
			for _, d := range table.ColumnDefinitions {
				got = append(got, column{d.Name, d.Type, d.Priority})
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.columns) {
				t.Errorf("columns (name type priority):\n got %v\nwant %v", got, tc.columns)
			}
			if len(table.Rows) != 1 {
				t.Fatalf("%d rows, want 1", len(table.Rows))
			}
			row := table.Rows[0].Cells
			if len(row) != len(tc.columns) {
				t.Fatalf("row %v has %d cells, want %d", row, len(row), len(tc.columns))
			}
			var cells []string
			for _, cell := range row[:len(row)-1] {
				cells = append(cells, fmt.Sprint(cell))
			}
			if fmt.Sprint(cells) != fmt.Sprint(tc.cells) {
				t.Errorf("cells:\n got %q\nwant %q", cells, tc.cells)
			}
			if age := fmt.Sprint(row[len(row)-1]); age == "" || age == "<nil>" || age == "<unknown>" {
				t.Errorf("Age cell is %q, want the object's age", age)
			}
		})
	}
}

// getTable lists path the way kubectl get asks for it: as a meta.k8s.io Table.
func getTable(t *testing.T, ctx context.Context, cfg *rest.Config, path string) metav1.Table {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	body, err := cs.CoreV1().RESTClient().Get().AbsPath(path).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
	if err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
	var table metav1.Table
	if err := json.Unmarshal(body, &table); err != nil {
		t.Fatalf("GET %s: not a Table: %v: %s", path, err, body)
	}
	if table.Kind != "Table" {
		t.Fatalf("GET %s: kind %q, want Table", path, table.Kind)
	}
	return table
}

func ptr[T any](v T) *T { return &v }
