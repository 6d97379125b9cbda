package webapp

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/conditions"
	"github.com/fleethub/fleethub/pkg/reconciler"
)

// statusInput is what one reconcile saw of a WebApp's children.
type statusInput struct {
	// Deployment as last read from the member (nil when it does not exist).
	Deployment *appsv1.Deployment
	// ServiceExists is true once the Service is there.
	ServiceExists bool
	// PVCPhase is the claim's phase when spec.storage is set.
	PVCPhase corev1.PersistentVolumeClaimPhase
	// Conflict, when set, names a child whose name is held by an object this
	// WebApp does not control.
	Conflict *reconciler.ConflictError
	// ApplyErr is the error, if any, of writing the children.
	ApplyErr error
}

// computeStatus derives the WebApp's status from what was observed. It is pure:
// the same inputs give the same status, so an unchanged world writes nothing.
func computeStatus(app *v1alpha1.WebApp, obs statusInput, now metav1.Time) v1alpha1.WebAppStatus {
	st := *app.Status.DeepCopy()
	gen := app.Generation
	st.ObservedGeneration = gen
	set := func(c metav1.Condition) { conditions.Set(&st.Conditions, c, gen, now) }

	dep := obs.Deployment
	if dep != nil {
		st.Replicas = dep.Status.Replicas
		st.AvailableReplicas = dep.Status.AvailableReplicas
	} else {
		st.Replicas, st.AvailableReplicas = 0, 0
	}

	// Degraded: we could not write what the spec asks for, or the rollout is stuck.
	stalled := dep != nil && conditions.DeploymentStalled(dep)
	switch {
	case obs.Conflict != nil:
		set(conditions.True(v1alpha1.ConditionDegraded, v1alpha1.ReasonChildConflict, obs.Conflict.Error()))
	case obs.ApplyErr != nil:
		set(conditions.True(v1alpha1.ConditionDegraded, v1alpha1.ReasonApplyFailed,
			fmt.Sprintf("Applying children failed: %v", obs.ApplyErr)))
	case stalled:
		set(conditions.True(v1alpha1.ConditionDegraded, v1alpha1.ReasonRolloutStalled,
			"The Deployment exceeded its progress deadline: "+conditions.DeploymentMessage(dep, appsv1.DeploymentProgressing)))
	default:
		set(conditions.False(v1alpha1.ConditionDegraded, v1alpha1.ReasonAsExpected, "Children are applied as specified"))
	}

	// Progressing: the Deployment is rolling out the current spec.
	desired := desiredReplicas(app, dep)
	switch {
	case dep == nil:
		set(conditions.True(v1alpha1.ConditionProgressing, v1alpha1.ReasonReconciling, "Waiting for the Deployment to be created"))
	case stalled:
		set(conditions.False(v1alpha1.ConditionProgressing, v1alpha1.ReasonRolloutStalled,
			"Rollout stopped progressing: "+conditions.DeploymentMessage(dep, appsv1.DeploymentProgressing)))
	case dep.Status.ObservedGeneration < dep.Generation:
		set(conditions.True(v1alpha1.ConditionProgressing, v1alpha1.ReasonProgressing, "The Deployment controller has not yet observed the latest spec"))
	case dep.Status.UpdatedReplicas < desired || dep.Status.Replicas > dep.Status.UpdatedReplicas || dep.Status.AvailableReplicas < desired:
		set(conditions.True(v1alpha1.ConditionProgressing, v1alpha1.ReasonProgressing,
			fmt.Sprintf("Rolling out: %d of %d replicas updated, %d available", dep.Status.UpdatedReplicas, desired, dep.Status.AvailableReplicas)))
	default:
		set(conditions.False(v1alpha1.ConditionProgressing, v1alpha1.ReasonRolloutComplete,
			fmt.Sprintf("Rollout complete: %d replicas updated and available", desired)))
	}

	// Available: enough pods serve traffic.
	switch {
	case dep == nil:
		set(conditions.False(v1alpha1.ConditionAvailable, v1alpha1.ReasonDeploymentMissing, "The Deployment does not exist yet"))
	case desired == 0:
		set(conditions.True(v1alpha1.ConditionAvailable, v1alpha1.ReasonScaledToZero, "Scaled to zero replicas"))
	case dep.Status.ObservedGeneration >= dep.Generation && dep.Status.AvailableReplicas >= desired:
		set(conditions.True(v1alpha1.ConditionAvailable, v1alpha1.ReasonAvailable,
			fmt.Sprintf("%d of %d replicas available", dep.Status.AvailableReplicas, desired)))
	default:
		set(conditions.False(v1alpha1.ConditionAvailable, v1alpha1.ReasonReplicasUnavailable,
			fmt.Sprintf("%d of %d replicas available", dep.Status.AvailableReplicas, desired)))
	}

	// Ready summarises the others; its reason is the first thing standing in the way.
	ready := readyCondition(app, st.Conditions, obs)
	set(ready)
	p, reason := progress(obs, stalled, ready)
	reconciler.SetProgress(&st.Conditions, p, reason, ready.Message, gen, now)
	return st
}

// progress is the Reconciling/Stalled verdict: Stalled when fleethub cannot
// get further without someone else's change (a name held by another object,
// a spec the member refuses, a rollout past its deadline), Reconciling while
// Ready is not yet True, else Done.
func progress(obs statusInput, rolloutStalled bool, ready metav1.Condition) (reconciler.Progress, string) {
	switch {
	case obs.Conflict != nil:
		return reconciler.Stalled, v1alpha1.ReasonChildConflict
	case obs.ApplyErr != nil && reconciler.Rejected(obs.ApplyErr):
		return reconciler.Stalled, v1alpha1.ReasonApplyFailed
	case rolloutStalled:
		return reconciler.Stalled, v1alpha1.ReasonRolloutStalled
	case ready.Status != metav1.ConditionTrue:
		return reconciler.Reconciling, ready.Reason
	}
	return reconciler.Done, ""
}

func readyCondition(app *v1alpha1.WebApp, conds []metav1.Condition, obs statusInput) metav1.Condition {
	find := func(t string) metav1.Condition { return conditions.Find(conds, t) }
	if d := find(v1alpha1.ConditionDegraded); d.Status == metav1.ConditionTrue {
		return conditions.False(v1alpha1.ConditionReady, d.Reason, d.Message)
	}
	if !obs.ServiceExists {
		return conditions.False(v1alpha1.ConditionReady, v1alpha1.ReasonReconciling, "Waiting for the Service to be created")
	}
	if app.Spec.Storage != nil && obs.PVCPhase != corev1.ClaimBound {
		phase := string(obs.PVCPhase)
		if phase == "" {
			phase = "missing"
		}
		// Unbound claims are normal with WaitForFirstConsumer classes; pods
		// becoming available below is what really counts, so only report it.
		if !conditions.IsTrue(conds, v1alpha1.ConditionAvailable) {
			return conditions.False(v1alpha1.ConditionReady, v1alpha1.ReasonReconciling,
				fmt.Sprintf("Waiting for PersistentVolumeClaim %s (phase %s)", pvcName(app), phase))
		}
	}
	if a := find(v1alpha1.ConditionAvailable); a.Status != metav1.ConditionTrue {
		return conditions.False(v1alpha1.ConditionReady, a.Reason, a.Message)
	}
	if p := find(v1alpha1.ConditionProgressing); p.Status == metav1.ConditionTrue {
		return conditions.False(v1alpha1.ConditionReady, p.Reason, p.Message)
	}
	a := find(v1alpha1.ConditionAvailable)
	return conditions.True(v1alpha1.ConditionReady, a.Reason, a.Message)
}

// desiredReplicas is the replica count the WebApp wants: its spec, or, when it
// leaves replicas to someone else (an HPA), whatever the Deployment asks for.
func desiredReplicas(app *v1alpha1.WebApp, dep *appsv1.Deployment) int32 {
	if app.Spec.Replicas != nil {
		return *app.Spec.Replicas
	}
	if dep != nil && dep.Spec.Replicas != nil {
		return *dep.Spec.Replicas
	}
	return 1
}
