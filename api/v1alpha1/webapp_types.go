package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WebAppStorageMountPath is where the volume of spec.storage is mounted in the
// application container.
const WebAppStorageMountPath = "/data"

// WebAppSpec is the desired state of a WebApp: one container image served by a
// Deployment and exposed by a ClusterIP Service on spec.port.
// +kubebuilder:validation:XValidation:rule="!has(self.initContainer) || !has(self.initContainer.name) || self.initContainer.name != 'app'",message="initContainer.name must not be 'app': that is the name of the application container"
type WebAppSpec struct {
	// Image is the container image to run, including its tag or digest, e.g. "nginx:1.27".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.matches('\\\\s')",message="image must not contain whitespace"
	Image string `json:"image"`

	// Replicas is the desired number of pods. When omitted, fleethub does not
	// own the replica count, so a HorizontalPodAutoscaler (or a person) can set it.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// Port is the container port the application listens on; the Service exposes it.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +kubebuilder:default=8080
	// +optional
	Port int32 `json:"port,omitempty"`

	// Env is passed to the application container.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=128
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`

	// Resources are the application container's compute requests and limits.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// Storage, when set, gives the application a PersistentVolumeClaim mounted at /data.
	// +optional
	Storage *StorageSpec `json:"storage,omitempty"`

	// InitContainer runs before the application container, or next to it as a
	// native sidecar when restartPolicy is Always.
	// +optional
	InitContainer *InitContainerSpec `json:"initContainer,omitempty"`
}

// StorageSpec asks for a PersistentVolumeClaim named after the WebApp.
type StorageSpec struct {
	// Size of the volume, e.g. "1Gi".
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).isGreaterThan(quantity('0'))",message="storage.size must be greater than zero"
	Size resource.Quantity `json:"size"`

	// StorageClassName selects the StorageClass; the cluster default is used when omitted.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// InitContainerSpec is an init container, or a native sidecar (restartPolicy Always).
type InitContainerSpec struct {
	// Name of the container; "init" when omitted.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Name string `json:"name,omitempty"`

	// Image of the container.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Image string `json:"image"`

	// Command overrides the image entrypoint.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=4096
	// +optional
	Command []string `json:"command,omitempty"`

	// Args are passed to the command.
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=4096
	// +optional
	Args []string `json:"args,omitempty"`

	// Env is passed to the container.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=128
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`

	// RestartPolicy Always makes the container a native sidecar that keeps
	// running next to the application; when omitted it runs to completion first.
	// +kubebuilder:validation:Enum=Always
	// +optional
	RestartPolicy *corev1.ContainerRestartPolicy `json:"restartPolicy,omitempty"`
}

// WebAppStatus is what fleethub last observed of the WebApp's children.
type WebAppStatus struct {
	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Replicas is the number of pods the Deployment currently targets.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// AvailableReplicas is the number of pods ready to serve.
	// +optional
	AvailableReplicas int32 `json:"availableReplicas,omitempty"`

	// Conditions: Ready (summary), Available, Progressing, Degraded.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// WebApp runs a container image as a Deployment with a Service in the member
// cluster it is applied in.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=fleethub
// +kubebuilder:printcolumn:name="Image",type="string",JSONPath=".spec.image"
// +kubebuilder:printcolumn:name="Replicas",type="integer",JSONPath=".status.replicas"
// +kubebuilder:printcolumn:name="Available",type="integer",JSONPath=".status.availableReplicas"
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type=='Ready')].status"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
type WebApp struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   WebAppSpec   `json:"spec"`
	Status WebAppStatus `json:"status,omitempty"`
}

// WebAppList is a list of WebApps.
// +kubebuilder:object:root=true
type WebAppList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []WebApp `json:"items"`
}

func init() {
	register(&WebApp{}, &WebAppList{})
}
