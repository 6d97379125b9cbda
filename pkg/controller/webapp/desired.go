package webapp

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/childmeta"
)

const (
	appContainer      = "app"
	defaultInitName   = "init"
	storageVolume     = "data"
	componentName     = "webapp"
	defaultPortNumber = 8080
)

func selectorLabels(app *v1alpha1.WebApp) map[string]string {
	return childmeta.SelectorLabels(componentName, app.Name)
}

func childLabels(app *v1alpha1.WebApp) map[string]string {
	return childmeta.Labels(componentName, app.Name)
}

func ownerRef(app *v1alpha1.WebApp) *metav1ac.OwnerReferenceApplyConfiguration {
	return childmeta.ControllerRef(app, "WebApp")
}

func port(app *v1alpha1.WebApp) int32 {
	if app.Spec.Port == 0 {
		return defaultPortNumber
	}
	return app.Spec.Port
}

// pvcName is the claim of spec.storage; it carries the WebApp's name so a
// re-created WebApp finds its data again.
func pvcName(app *v1alpha1.WebApp) string { return app.Name + "-data" }

// Deployment is the desired Deployment of a WebApp. Only the fields set here are
// owned by fleethub; replicas is left out when the spec omits it so an HPA can own it.
func Deployment(app *v1alpha1.WebApp) *appsv1ac.DeploymentApplyConfiguration {
	container := corev1ac.Container().
		WithName(appContainer).
		WithImage(app.Spec.Image).
		WithPorts(corev1ac.ContainerPort().WithName("http").WithContainerPort(port(app)).WithProtocol(corev1.ProtocolTCP))
	for i := range app.Spec.Env {
		container.WithEnv(envVar(app.Spec.Env[i]))
	}
	if r := app.Spec.Resources; r != nil && (len(r.Limits) > 0 || len(r.Requests) > 0) {
		res := corev1ac.ResourceRequirements()
		if len(r.Limits) > 0 {
			res.WithLimits(r.Limits)
		}
		if len(r.Requests) > 0 {
			res.WithRequests(r.Requests)
		}
		container.WithResources(res)
	}

	pod := corev1ac.PodSpec()
	if app.Spec.Storage != nil {
		container.WithVolumeMounts(corev1ac.VolumeMount().WithName(storageVolume).WithMountPath(v1alpha1.WebAppStorageMountPath))
		pod.WithVolumes(corev1ac.Volume().WithName(storageVolume).
			WithPersistentVolumeClaim(corev1ac.PersistentVolumeClaimVolumeSource().WithClaimName(pvcName(app))))
	}
	if ic := app.Spec.InitContainer; ic != nil {
		pod.WithInitContainers(initContainer(ic))
	}
	pod.WithContainers(container)

	spec := appsv1ac.DeploymentSpec().
		WithSelector(metav1ac.LabelSelector().WithMatchLabels(selectorLabels(app))).
		WithTemplate(corev1ac.PodTemplateSpec().
			WithLabels(childLabels(app)).
			WithSpec(pod))
	if app.Spec.Replicas != nil {
		spec.WithReplicas(*app.Spec.Replicas)
	}
	if app.Spec.Storage != nil {
		// A ReadWriteOnce claim can be mounted by one node at a time, so the
		// old pod must be gone before the new one starts.
		spec.WithStrategy(appsv1ac.DeploymentStrategy().WithType(appsv1.RecreateDeploymentStrategyType))
	}

	return appsv1ac.Deployment(app.Name, app.Namespace).
		WithLabels(childLabels(app)).
		WithOwnerReferences(ownerRef(app)).
		WithSpec(spec)
}

func initContainer(ic *v1alpha1.InitContainerSpec) *corev1ac.ContainerApplyConfiguration {
	name := ic.Name
	if name == "" {
		name = defaultInitName
	}
	c := corev1ac.Container().WithName(name).WithImage(ic.Image)
	if len(ic.Command) > 0 {
		c.WithCommand(ic.Command...)
	}
	if len(ic.Args) > 0 {
		c.WithArgs(ic.Args...)
	}
	for i := range ic.Env {
		c.WithEnv(envVar(ic.Env[i]))
	}
	if ic.RestartPolicy != nil {
		c.WithRestartPolicy(*ic.RestartPolicy)
	}
	return c
}

// envVar converts a user's EnvVar, keeping only the fields they set.
func envVar(e corev1.EnvVar) *corev1ac.EnvVarApplyConfiguration {
	ac := corev1ac.EnvVar().WithName(e.Name)
	if e.ValueFrom == nil {
		return ac.WithValue(e.Value)
	}
	src := corev1ac.EnvVarSource()
	vf := e.ValueFrom
	switch {
	case vf.SecretKeyRef != nil:
		ref := corev1ac.SecretKeySelector().WithName(vf.SecretKeyRef.Name).WithKey(vf.SecretKeyRef.Key)
		if vf.SecretKeyRef.Optional != nil {
			ref.WithOptional(*vf.SecretKeyRef.Optional)
		}
		src.WithSecretKeyRef(ref)
	case vf.ConfigMapKeyRef != nil:
		ref := corev1ac.ConfigMapKeySelector().WithName(vf.ConfigMapKeyRef.Name).WithKey(vf.ConfigMapKeyRef.Key)
		if vf.ConfigMapKeyRef.Optional != nil {
			ref.WithOptional(*vf.ConfigMapKeyRef.Optional)
		}
		src.WithConfigMapKeyRef(ref)
	case vf.FieldRef != nil:
		ref := corev1ac.ObjectFieldSelector().WithFieldPath(vf.FieldRef.FieldPath)
		if vf.FieldRef.APIVersion != "" {
			ref.WithAPIVersion(vf.FieldRef.APIVersion)
		}
		src.WithFieldRef(ref)
	case vf.ResourceFieldRef != nil:
		ref := corev1ac.ResourceFieldSelector().WithResource(vf.ResourceFieldRef.Resource)
		if vf.ResourceFieldRef.ContainerName != "" {
			ref.WithContainerName(vf.ResourceFieldRef.ContainerName)
		}
		if !vf.ResourceFieldRef.Divisor.IsZero() {
			ref.WithDivisor(vf.ResourceFieldRef.Divisor)
		}
		src.WithResourceFieldRef(ref)
	}
	return ac.WithValueFrom(src)
}

// Service is the desired ClusterIP Service in front of the WebApp's pods.
func Service(app *v1alpha1.WebApp) *corev1ac.ServiceApplyConfiguration {
	return corev1ac.Service(app.Name, app.Namespace).
		WithLabels(childLabels(app)).
		WithOwnerReferences(ownerRef(app)).
		WithSpec(corev1ac.ServiceSpec().
			WithSelector(selectorLabels(app)).
			WithPorts(corev1ac.ServicePort().
				WithName("http").
				WithPort(port(app)).
				WithTargetPort(intstr.FromString("http")).
				WithProtocol(corev1.ProtocolTCP)))
}

// PersistentVolumeClaim is the desired claim of spec.storage, or nil without storage.
// Only requests.storage may change later (expansion); the rest is fixed at creation.
func PersistentVolumeClaim(app *v1alpha1.WebApp) *corev1ac.PersistentVolumeClaimApplyConfiguration {
	st := app.Spec.Storage
	if st == nil {
		return nil
	}
	spec := corev1ac.PersistentVolumeClaimSpec().
		WithAccessModes(corev1.ReadWriteOnce).
		WithResources(corev1ac.VolumeResourceRequirements().
			WithRequests(corev1.ResourceList{corev1.ResourceStorage: st.Size}))
	if st.StorageClassName != nil {
		spec.WithStorageClassName(*st.StorageClassName)
	}
	return corev1ac.PersistentVolumeClaim(pvcName(app), app.Namespace).
		WithLabels(childLabels(app)).
		WithOwnerReferences(ownerRef(app)).
		WithSpec(spec)
}
