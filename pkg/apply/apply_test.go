package apply

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
)

func TestEqual(t *testing.T) {
	base := func() *corev1ac.ServiceApplyConfiguration {
		return corev1ac.Service("s", "ns").WithLabels(map[string]string{"a": "b"}).
			WithSpec(corev1ac.ServiceSpec().WithPorts(corev1ac.ServicePort().WithPort(80)))
	}
	tests := []struct {
		name string
		a, b *corev1ac.ServiceApplyConfiguration
		want bool
	}{
		{"identical", base(), base(), true},
		{"different port", base(), base().WithSpec(corev1ac.ServiceSpec().WithPorts(corev1ac.ServicePort().WithPort(81))), false},
		{"extra label", base(), base().WithLabels(map[string]string{"c": "d"}), false},
		{"empty maps are absent", base(), base().WithAnnotations(map[string]string{}), true},
		{"nil vs object", nil, base(), false},
		{"nil vs nil", nil, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Equal(tc.a, tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Equal = %v, want %v", got, tc.want)
			}
		})
	}
}

// Quantities compare by value in canonical form, so "0.5" and "500m" are the same.
func TestEqualQuantities(t *testing.T) {
	a := corev1ac.ResourceRequirements().WithRequests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0.5")})
	b := corev1ac.ResourceRequirements().WithRequests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")})
	pod := func(r *corev1ac.ResourceRequirementsApplyConfiguration) *corev1ac.PodApplyConfiguration {
		return corev1ac.Pod("p", "ns").WithSpec(corev1ac.PodSpec().WithContainers(corev1ac.Container().WithName("x").WithResources(r)))
	}
	c1, c2 := pod(a), pod(b)
	got, err := Equal(c1, c2)
	if err != nil || !got {
		t.Errorf("Equal = %v, %v", got, err)
	}
}
