package webapp

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleethub/fleethub/api/v1alpha1"
)

func sample(mut ...func(*v1alpha1.WebApp)) *v1alpha1.WebApp {
	app := &v1alpha1.WebApp{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "team-a", UID: "uid-1", Generation: 3},
		Spec:       v1alpha1.WebAppSpec{Image: "nginx:1.27", Port: 9090},
	}
	for _, f := range mut {
		f(app)
	}
	return app
}

func ptr[T any](v T) *T { return &v }

func TestDeployment(t *testing.T) {
	tests := map[string]struct {
		app   *v1alpha1.WebApp
		check func(t *testing.T, js string)
	}{
		"replicas omitted stays unowned": {
			app: sample(),
			check: func(t *testing.T, js string) {
				if strings.Contains(js, `"replicas"`) {
					t.Errorf("replicas must be absent so an HPA can own it: %s", js)
				}
			},
		},
		"replicas set": {
			app: sample(func(a *v1alpha1.WebApp) { a.Spec.Replicas = ptr(int32(0)) }),
			check: func(t *testing.T, js string) {
				if !strings.Contains(js, `"replicas":0`) {
					t.Errorf("replicas 0 must be applied: %s", js)
				}
			},
		},
		"storage mounts claim and recreates": {
			app: sample(func(a *v1alpha1.WebApp) {
				a.Spec.Storage = &v1alpha1.StorageSpec{Size: resource.MustParse("1Gi")}
			}),
			check: func(t *testing.T, js string) {
				for _, want := range []string{`"claimName":"shop-data"`, `"mountPath":"/data"`, `"type":"Recreate"`} {
					if !strings.Contains(js, want) {
						t.Errorf("missing %s in %s", want, js)
					}
				}
			},
		},
		"sidecar init container defaults its name": {
			app: sample(func(a *v1alpha1.WebApp) {
				a.Spec.InitContainer = &v1alpha1.InitContainerSpec{Image: "busybox", Command: []string{"sh"}, RestartPolicy: ptr(corev1.ContainerRestartPolicyAlways)}
			}),
			check: func(t *testing.T, js string) {
				if !strings.Contains(js, `"initContainers":[{"name":"init","image":"busybox","command":["sh"],"restartPolicy":"Always"}]`) {
					t.Errorf("init container wrong: %s", js)
				}
			},
		},
		"env and resources": {
			app: sample(func(a *v1alpha1.WebApp) {
				a.Spec.Env = []corev1.EnvVar{
					{Name: "PLAIN", Value: "x"},
					{Name: "FROM_SECRET", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "k"}}},
				}
				a.Spec.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")}}
			}),
			check: func(t *testing.T, js string) {
				for _, want := range []string{`{"name":"PLAIN","value":"x"}`, `"secretKeyRef":{"name":"s","key":"k"}`, `"limits":{"memory":"128Mi"}`} {
					if !strings.Contains(js, want) {
						t.Errorf("missing %s in %s", want, js)
					}
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := Deployment(tc.app)
			b, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			js := string(b)
			for _, want := range []string{
				`"ownerReferences":[{"apiVersion":"app.54b3r.io/v1alpha1","kind":"WebApp","name":"shop","uid":"uid-1","controller":true,"blockOwnerDeletion":true}]`,
				`"app.kubernetes.io/managed-by":"fleethub"`,
				`"matchLabels":{"app.kubernetes.io/instance":"shop","app.kubernetes.io/name":"webapp"}`,
				`"containerPort":9090`,
			} {
				if !strings.Contains(js, want) {
					t.Errorf("missing %s in %s", want, js)
				}
			}
			tc.check(t, js)
		})
	}
}

func TestServiceAndClaim(t *testing.T) {
	svc, _ := json.Marshal(Service(sample(func(a *v1alpha1.WebApp) { a.Spec.Port = 0 })))
	if !strings.Contains(string(svc), `"port":8080,"targetPort":"http"`) {
		t.Errorf("service port must default to 8080 and target the named port: %s", svc)
	}
	if PersistentVolumeClaim(sample()) != nil {
		t.Error("no claim without storage")
	}
	pvc, _ := json.Marshal(PersistentVolumeClaim(sample(func(a *v1alpha1.WebApp) {
		a.Spec.Storage = &v1alpha1.StorageSpec{Size: resource.MustParse("2Gi"), StorageClassName: ptr("fast")}
	})))
	for _, want := range []string{`"name":"shop-data"`, `"storage":"2Gi"`, `"storageClassName":"fast"`, `"ReadWriteOnce"`} {
		if !strings.Contains(string(pvc), want) {
			t.Errorf("missing %s in %s", want, pvc)
		}
	}
}
