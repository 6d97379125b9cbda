package simpledb

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/fleethub/fleethub/api/v1alpha1"
)

func sample(mut ...func(*v1alpha1.SimpleDB)) *v1alpha1.SimpleDB {
	db := &v1alpha1.SimpleDB{
		ObjectMeta: metav1.ObjectMeta{Name: "order-db", Namespace: "team-a", UID: "uid-1", Generation: 2},
	}
	for _, f := range mut {
		f(db)
	}
	return db
}

func ptr[T any](v T) *T { return &v }

func qty(s string) *resource.Quantity { q := resource.MustParse(s); return &q }

// decode turns an apply configuration into the typed object the apiserver would see.
func decode[T any](t *testing.T, ac runtime.ApplyConfiguration) (T, string) {
	t.Helper()
	var out T
	js, err := json.Marshal(ac)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &out); err != nil {
		t.Fatal(err)
	}
	return out, string(js)
}

func envByName(c corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		m[e.Name] = e
	}
	return m
}

func TestDeployment(t *testing.T) {
	tests := map[string]struct {
		db    *v1alpha1.SimpleDB
		opts  DeploymentOptions
		check func(t *testing.T, d appsv1.Deployment, js string)
	}{
		"credentials come from the Secret, never literal": {
			db:   sample(),
			opts: DeploymentOptions{CredentialsChecksum: "abc"},
			check: func(t *testing.T, d appsv1.Deployment, js string) {
				pod := d.Spec.Template.Spec
				for _, c := range append(pod.InitContainers, pod.Containers...) {
					env := envByName(c)
					for name, key := range map[string]string{"POSTGRES_USER": "username", "POSTGRES_PASSWORD": "password", "POSTGRES_DB": "database"} {
						e, ok := env[name]
						if !ok || e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
							t.Fatalf("%s: %s is not from a secretKeyRef: %+v", c.Name, name, e)
						}
						if ref := e.ValueFrom.SecretKeyRef; ref.Name != "order-db-credentials" || ref.Key != key {
							t.Errorf("%s: %s refers to %s/%s", c.Name, name, ref.Name, ref.Key)
						}
					}
				}
			},
		},
		"PGDATA is a subdirectory of the data mount": {
			db: sample(),
			check: func(t *testing.T, d appsv1.Deployment, js string) {
				for _, c := range append(d.Spec.Template.Spec.InitContainers, d.Spec.Template.Spec.Containers...) {
					pgdata := envByName(c)["PGDATA"].Value
					var mount string
					for _, m := range c.VolumeMounts {
						if m.Name == dataVolume {
							mount = m.MountPath
						}
					}
					if mount == "" || pgdata == mount || !strings.HasPrefix(pgdata, mount+"/") {
						t.Errorf("%s: PGDATA %q is not below the data mount %q", c.Name, pgdata, mount)
					}
				}
				vols := d.Spec.Template.Spec.Volumes
				if vols[0].Name != dataVolume || vols[0].PersistentVolumeClaim.ClaimName != "order-db-data" {
					t.Errorf("data volume = %+v", vols[0])
				}
			},
		},
		"one replica, Recreate": {
			db: sample(),
			check: func(t *testing.T, d appsv1.Deployment, js string) {
				if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
					t.Errorf("replicas = %v", d.Spec.Replicas)
				}
				if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType || d.Spec.Strategy.RollingUpdate != nil {
					t.Errorf("strategy = %+v", d.Spec.Strategy)
				}
			},
		},
		"pg_isready probes": {
			db: sample(),
			check: func(t *testing.T, d appsv1.Deployment, js string) {
				c := d.Spec.Template.Spec.Containers[0]
				for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
					if p == nil || p.Exec == nil || !strings.Contains(strings.Join(p.Exec.Command, " "), "pg_isready") {
						t.Errorf("%s probe does not run pg_isready: %+v", name, p)
						continue
					}
					if !strings.Contains(strings.Join(p.Exec.Command, " "), "--host=127.0.0.1 --port=5432") {
						t.Errorf("%s probe does not check the TCP listener: %v", name, p.Exec.Command)
					}
				}
				if c.LivenessProbe.FailureThreshold*c.LivenessProbe.PeriodSeconds < 30 {
					t.Errorf("liveness gives up after less than 30s")
				}
				if c.StartupProbe.FailureThreshold*c.StartupProbe.PeriodSeconds < 300 {
					t.Errorf("startup leaves less than 5 minutes for recovery")
				}
			},
		},
		"non-root with fsGroup": {
			db: sample(),
			check: func(t *testing.T, d appsv1.Deployment, js string) {
				psc := d.Spec.Template.Spec.SecurityContext
				if psc == nil || !*psc.RunAsNonRoot || *psc.RunAsUser != 999 || *psc.FSGroup != 999 ||
					*psc.FSGroupChangePolicy != corev1.FSGroupChangeOnRootMismatch || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
					t.Errorf("pod securityContext = %+v", psc)
				}
				for _, c := range append(d.Spec.Template.Spec.InitContainers, d.Spec.Template.Spec.Containers...) {
					sc := c.SecurityContext
					if sc == nil || !*sc.RunAsNonRoot || *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem ||
						!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
						t.Errorf("%s securityContext = %+v", c.Name, sc)
					}
				}
				if d.Spec.Template.Spec.AutomountServiceAccountToken == nil || *d.Spec.Template.Spec.AutomountServiceAccountToken {
					t.Errorf("service account token mounted")
				}
			},
		},
		"password re-applied by an init container on every start": {
			db: sample(),
			check: func(t *testing.T, d appsv1.Deployment, js string) {
				ic := d.Spec.Template.Spec.InitContainers
				if len(ic) != 1 || ic[0].Name != passwordContainer || ic[0].Image != d.Spec.Template.Spec.Containers[0].Image {
					t.Fatalf("init containers = %+v", ic)
				}
				script := strings.Join(ic[0].Command, " ")
				for _, want := range []string{"listen_addresses=''", `ALTER ROLE :"dbrole" WITH PASSWORD :'password'`, "PG_VERSION"} {
					if !strings.Contains(script, want) {
						t.Errorf("init script lacks %q", want)
					}
				}
			},
		},
		"checksum annotation on the pod template": {
			db:   sample(),
			opts: DeploymentOptions{CredentialsChecksum: "0123abcd"},
			check: func(t *testing.T, d appsv1.Deployment, js string) {
				if got := d.Spec.Template.Annotations[ChecksumAnnotation]; got != "0123abcd" {
					t.Errorf("annotation = %q", got)
				}
			},
		},
		"default image": {
			db: sample(),
			check: func(t *testing.T, d appsv1.Deployment, js string) {
				if img := d.Spec.Template.Spec.Containers[0].Image; img != "postgres:"+v1alpha1.DefaultPostgresVersion {
					t.Errorf("image = %s", img)
				}
			},
		},
		"configured repository and version": {
			db:   sample(func(d *v1alpha1.SimpleDB) { d.Spec.PostgresVersion = "15" }),
			opts: DeploymentOptions{ImageRepository: "mirror.example.com:5000/library/postgres"},
			check: func(t *testing.T, d appsv1.Deployment, js string) {
				pod := d.Spec.Template.Spec
				want := "mirror.example.com:5000/library/postgres:15"
				if pod.Containers[0].Image != want || pod.InitContainers[0].Image != want {
					t.Errorf("images = %s, %s", pod.Containers[0].Image, pod.InitContainers[0].Image)
				}
			},
		},
		"resources on both containers": {
			db: sample(func(d *v1alpha1.SimpleDB) {
				d.Spec.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}
			}),
			check: func(t *testing.T, d appsv1.Deployment, js string) {
				for _, c := range append(d.Spec.Template.Spec.InitContainers, d.Spec.Template.Spec.Containers...) {
					if l := c.Resources.Limits[corev1.ResourceMemory]; l.String() != "1Gi" {
						t.Errorf("%s memory limit = %s", c.Name, l.String())
					}
				}
			},
		},
		"no resources: none owned": {
			db: sample(),
			check: func(t *testing.T, d appsv1.Deployment, js string) {
				if strings.Contains(js, `"resources"`) {
					t.Errorf("resources present: %s", js)
				}
			},
		},
		"labels, selector and owner": {
			db: sample(),
			check: func(t *testing.T, d appsv1.Deployment, js string) {
				if d.Labels[v1alpha1.LabelManagedBy] != "fleethub" || d.Spec.Template.Labels[v1alpha1.LabelInstance] != "order-db" {
					t.Errorf("labels = %v / %v", d.Labels, d.Spec.Template.Labels)
				}
				if _, ok := d.Spec.Selector.MatchLabels[v1alpha1.LabelManagedBy]; ok {
					t.Errorf("selector carries a label that could change: %v", d.Spec.Selector.MatchLabels)
				}
				if o := d.OwnerReferences; len(o) != 1 || o[0].Kind != "SimpleDB" || o[0].UID != "uid-1" || !*o[0].Controller {
					t.Errorf("owner = %+v", o)
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d, js := decode[appsv1.Deployment](t, Deployment(tc.db, tc.opts))
			tc.check(t, d, js)
		})
	}
}

func TestCredentials(t *testing.T) {
	tests := map[string]struct {
		db       *v1alpha1.SimpleDB
		password string
		uri      string
		database string
	}{
		"derived database name": {
			db: sample(), password: "abc123",
			database: "order_db",
			uri:      "postgresql://postgres:abc123@order-db.team-a.svc:5432/order_db",
		},
		"explicit database name": {
			db: sample(func(d *v1alpha1.SimpleDB) { d.Spec.DatabaseName = "shop" }), password: "abc123",
			database: "shop",
			uri:      "postgresql://postgres:abc123@order-db.team-a.svc:5432/shop",
		},
		"password rotated by hand to one that needs escaping": {
			db: sample(), password: "p@ss/w:rd?#",
			database: "order_db",
			uri:      "postgresql://postgres:p%40ss%2Fw%3Ard%3F%23@order-db.team-a.svc:5432/order_db",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := NewCredentialsSecret(tc.db, tc.password)
			if s.Type != "servicebinding.io/postgresql" || s.Name != "order-db-credentials" {
				t.Errorf("secret %s of type %s", s.Name, s.Type)
			}
			want := map[string]string{
				"username": "postgres", "password": tc.password, "database": tc.database,
				"host": "order-db.team-a.svc", "port": "5432", "uri": tc.uri,
				"type": "postgresql", "provider": "fleethub",
			}
			for k, v := range want {
				if got := string(s.Data[k]); got != v {
					t.Errorf("new Secret %s = %q, want %q", k, got, v)
				}
			}
			if len(s.Data) != len(want) || s.Labels[v1alpha1.LabelManagedBy] != "fleethub" || !ownsData(tc.db)(s) || len(s.OwnerReferences) != 0 {
				t.Errorf("new Secret = %+v", s)
			}

			// What is applied later never carries the password key.
			applied, js := decode[corev1.Secret](t, CredentialsSecret(tc.db, tc.password))
			if _, ok := applied.Data["password"]; ok || strings.Contains(js, `"password"`) {
				t.Errorf("the apply configuration owns the password: %s", js)
			}
			if string(applied.Data["uri"]) != tc.uri || applied.Type != "" || len(applied.OwnerReferences) != 0 || applied.Annotations[v1alpha1.AnnotationOwnerUID] != "uid-1" {
				t.Errorf("applied Secret = %+v", applied)
			}
		})
	}
}

func TestPersistentVolumeClaim(t *testing.T) {
	tests := map[string]struct {
		db    *v1alpha1.SimpleDB
		size  string
		class string
	}{
		"default class":  {sample(), "1Gi", ""},
		"explicit class": {sample(func(d *v1alpha1.SimpleDB) { d.Spec.StorageClassName = ptr("fast") }), "20Gi", "fast"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pvc, js := decode[corev1.PersistentVolumeClaim](t, PersistentVolumeClaim(tc.db, resource.MustParse(tc.size)))
			if pvc.Name != "order-db-data" || !slices.Equal(pvc.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) {
				t.Errorf("claim = %s", js)
			}
			if r := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; r.String() != tc.size {
				t.Errorf("request = %s", r.String())
			}
			if got := ""; pvc.Spec.StorageClassName != nil {
				got = *pvc.Spec.StorageClassName
				if got != tc.class {
					t.Errorf("class = %q", got)
				}
			} else if tc.class != "" {
				t.Errorf("class missing")
			}
		})
	}
}

func TestService(t *testing.T) {
	svc, _ := decode[corev1.Service](t, Service(sample()))
	if svc.Name != "order-db" || svc.Spec.Ports[0].Port != 5432 || svc.Spec.Ports[0].TargetPort.StrVal != "postgres" {
		t.Errorf("service = %+v", svc)
	}
	if svc.Spec.Selector[v1alpha1.LabelInstance] != "order-db" || svc.Spec.Selector[v1alpha1.LabelName] != "simpledb" {
		t.Errorf("selector = %v", svc.Spec.Selector)
	}
}

func TestDefaults(t *testing.T) {
	tests := map[string]struct {
		db                   *v1alpha1.SimpleDB
		database, size, host string
		policy               v1alpha1.SimpleDBDeletionPolicy
	}{
		"all defaults": {sample(), "order_db", "1Gi", "order-db.team-a.svc:5432", v1alpha1.SimpleDBRetain},
		"all set": {sample(func(d *v1alpha1.SimpleDB) {
			d.Spec.DatabaseName, d.Spec.StorageSize, d.Spec.DeletionPolicy = "orders", qty("3Gi"), v1alpha1.SimpleDBDelete
		}), "orders", "3Gi", "order-db.team-a.svc:5432", v1alpha1.SimpleDBDelete},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := DatabaseName(tc.db); got != tc.database {
				t.Errorf("database = %s", got)
			}
			if got := StorageSize(tc.db); got.String() != tc.size {
				t.Errorf("size = %s", got.String())
			}
			if got := Endpoint(tc.db); got != tc.host {
				t.Errorf("endpoint = %s", got)
			}
			if got := DeletionPolicy(tc.db); got != tc.policy {
				t.Errorf("policy = %s", got)
			}
		})
	}
}
