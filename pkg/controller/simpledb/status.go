package simpledb

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/conditions"
	"github.com/fleethub/fleethub/pkg/reconciler"
)

// problem is a reason and message that stand in the way of a child being ready.
type problem struct {
	Reason  string
	Message string
}

// statusInput is what one reconcile saw of a SimpleDB's children.
type statusInput struct {
	// Secret is the credentials Secret (nil when it does not exist).
	Secret *corev1.Secret
	// Credentials, when set, says why the Secret cannot be used.
	Credentials *problem
	// Claim is the data claim (nil when it does not exist).
	Claim *corev1.PersistentVolumeClaim
	// Storage, when set, says why the claim is not (or not yet) as specified:
	// expansion not supported, pending, conflicting owner.
	Storage *problem
	// ClaimEvent is the newest Event about a claim that is not bound, if any.
	ClaimEvent *problem
	// Deployment as last read (nil when it does not exist).
	Deployment *appsv1.Deployment
	// ServiceExists is true once the Service is there.
	ServiceExists bool
	// Conflict, when set, names a child whose name is held by an object this
	// SimpleDB does not control.
	Conflict *reconciler.ConflictError
	// ApplyErr is the error, if any, of writing the children.
	ApplyErr error
}

// computeStatus derives the SimpleDB's status from what was observed. It is
// pure: the same inputs give the same status, so an unchanged world writes nothing.
func computeStatus(db *v1alpha1.SimpleDB, obs statusInput, now metav1.Time) v1alpha1.SimpleDBStatus {
	st := *db.Status.DeepCopy()
	gen := db.Generation
	st.ObservedGeneration = gen
	set := func(c metav1.Condition) { conditions.Set(&st.Conditions, c, gen, now) }

	st.Database = DatabaseName(db)
	st.SecretName, st.ServiceName, st.Endpoint, st.Capacity = "", "", "", nil
	if obs.Secret != nil && obs.Credentials == nil {
		st.SecretName = obs.Secret.Name
	}
	if obs.ServiceExists {
		st.ServiceName = ServiceName(db)
		st.Endpoint = Endpoint(db)
	}
	if obs.Claim != nil {
		if c, ok := obs.Claim.Status.Capacity[corev1.ResourceStorage]; ok {
			st.Capacity = &c
		}
	}

	// Degraded: what the spec asks for could not be written.
	if obs.ApplyErr != nil {
		set(conditions.True(v1alpha1.ConditionDegraded, v1alpha1.ReasonApplyFailed,
			fmt.Sprintf("Applying children failed: %v", obs.ApplyErr)))
	} else {
		set(conditions.False(v1alpha1.ConditionDegraded, v1alpha1.ReasonAsExpected, "Children are applied as specified"))
	}

	set(credentialsCondition(db, obs))
	set(storageCondition(db, obs))
	set(availableCondition(obs.Deployment))
	ready := readyCondition(db, st.Conditions, obs)
	set(ready)
	st.Ready = ready.Status == metav1.ConditionTrue
	p, reason := progress(obs, ready)
	reconciler.SetProgress(&st.Conditions, p, reason, ready.Message, gen, now)
	return st
}

// progress is the Reconciling/Stalled verdict: Stalled when fleethub cannot
// get further without someone else's change — a name held by another
// object, retained data of another major, unusable credentials, a spec the
// member refuses, a rollout past its deadline; Reconciling while Ready is not
// yet True; else Done.
func progress(obs statusInput, ready metav1.Condition) (reconciler.Progress, string) {
	switch {
	case obs.Conflict != nil:
		return reconciler.Stalled, v1alpha1.ReasonChildConflict
	case obs.Storage != nil && obs.Storage.Reason == v1alpha1.ReasonAdoptionRefused:
		return reconciler.Stalled, v1alpha1.ReasonAdoptionRefused
	case obs.Credentials != nil && obs.Credentials.Reason == v1alpha1.ReasonInvalidCredentials:
		return reconciler.Stalled, v1alpha1.ReasonInvalidCredentials
	case obs.ApplyErr != nil && reconciler.Rejected(obs.ApplyErr):
		return reconciler.Stalled, v1alpha1.ReasonApplyFailed
	case obs.Deployment != nil && conditions.DeploymentStalled(obs.Deployment):
		return reconciler.Stalled, v1alpha1.ReasonRolloutStalled
	case ready.Status != metav1.ConditionTrue:
		return reconciler.Reconciling, ready.Reason
	}
	return reconciler.Done, ""
}

func credentialsCondition(db *v1alpha1.SimpleDB, obs statusInput) metav1.Condition {
	switch {
	case obs.Credentials != nil:
		return conditions.False(v1alpha1.ConditionCredentialsReady, obs.Credentials.Reason, obs.Credentials.Message)
	case obs.Secret == nil:
		return conditions.False(v1alpha1.ConditionCredentialsReady, v1alpha1.ReasonSecretMissing,
			fmt.Sprintf("Waiting for Secret %s to be created", SecretName(db)))
	}
	return conditions.True(v1alpha1.ConditionCredentialsReady, v1alpha1.ReasonSecretReady,
		fmt.Sprintf("Secret %s holds the connection credentials", obs.Secret.Name))
}

func storageCondition(db *v1alpha1.SimpleDB, obs statusInput) metav1.Condition {
	pvc := obs.Claim
	switch {
	case obs.Storage != nil:
		return conditions.False(v1alpha1.ConditionStorageReady, obs.Storage.Reason, obs.Storage.Message)
	case pvc == nil:
		return conditions.False(v1alpha1.ConditionStorageReady, v1alpha1.ReasonClaimMissing,
			fmt.Sprintf("Waiting for PersistentVolumeClaim %s to be created", ClaimName(db)))
	case pvc.Status.Phase == corev1.ClaimLost:
		return conditions.False(v1alpha1.ConditionStorageReady, v1alpha1.ReasonClaimLost,
			fmt.Sprintf("PersistentVolumeClaim %s lost its volume %s", pvc.Name, pvc.Spec.VolumeName))
	case pvc.Status.Phase != corev1.ClaimBound:
		msg := fmt.Sprintf("PersistentVolumeClaim %s is %s", pvc.Name, phaseOrUnknown(pvc.Status.Phase))
		if e := obs.ClaimEvent; e != nil {
			return conditions.False(v1alpha1.ConditionStorageReady, e.Reason, msg+": "+e.Message)
		}
		return conditions.False(v1alpha1.ConditionStorageReady, v1alpha1.ReasonClaimPending, msg)
	}
	want := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	have, ok := pvc.Status.Capacity[corev1.ResourceStorage]
	if ok && have.Cmp(want) < 0 {
		return conditions.False(v1alpha1.ConditionStorageReady, v1alpha1.ReasonResizing,
			fmt.Sprintf("PersistentVolumeClaim %s is growing from %s to %s", pvc.Name, have.String(), want.String()))
	}
	capacity := want.String()
	if ok {
		capacity = have.String()
	}
	return conditions.True(v1alpha1.ConditionStorageReady, v1alpha1.ReasonClaimBound,
		fmt.Sprintf("PersistentVolumeClaim %s is bound with %s", pvc.Name, capacity))
}

func phaseOrUnknown(p corev1.PersistentVolumeClaimPhase) string {
	if p == "" {
		return "not yet bound"
	}
	return string(p)
}

// availableCondition: the one replica runs the current template and is ready.
func availableCondition(dep *appsv1.Deployment) metav1.Condition {
	switch {
	case dep == nil:
		return conditions.False(v1alpha1.ConditionAvailable, v1alpha1.ReasonDeploymentMissing, "The Deployment does not exist yet")
	case dep.Status.ObservedGeneration < dep.Generation:
		return conditions.False(v1alpha1.ConditionAvailable, v1alpha1.ReasonProgressing, "The Deployment controller has not yet observed the latest spec")
	case conditions.DeploymentStalled(dep):
		return conditions.False(v1alpha1.ConditionAvailable, v1alpha1.ReasonRolloutStalled,
			"The Deployment exceeded its progress deadline: "+conditions.DeploymentMessage(dep, appsv1.DeploymentProgressing))
	case dep.Status.UpdatedReplicas < 1 || dep.Status.Replicas > dep.Status.UpdatedReplicas:
		return conditions.False(v1alpha1.ConditionAvailable, v1alpha1.ReasonProgressing, "Replacing the PostgreSQL pod")
	case dep.Status.AvailableReplicas < 1:
		return conditions.False(v1alpha1.ConditionAvailable, v1alpha1.ReasonReplicasUnavailable, "PostgreSQL is not ready to accept connections")
	}
	return conditions.True(v1alpha1.ConditionAvailable, v1alpha1.ReasonAvailable, "PostgreSQL accepts connections")
}

// readyCondition summarises the others; its reason is the first thing standing in the way.
func readyCondition(db *v1alpha1.SimpleDB, conds []metav1.Condition, obs statusInput) metav1.Condition {
	find := func(t string) metav1.Condition {
		for _, c := range conds {
			if c.Type == t {
				return c
			}
		}
		return metav1.Condition{}
	}
	notReady := func(c metav1.Condition) metav1.Condition {
		return conditions.False(v1alpha1.ConditionReady, c.Reason, c.Message)
	}
	if obs.Conflict != nil {
		return conditions.False(v1alpha1.ConditionReady, v1alpha1.ReasonChildConflict, obs.Conflict.Error())
	}
	if s := find(v1alpha1.ConditionStorageReady); s.Reason == v1alpha1.ReasonAdoptionRefused {
		return notReady(s)
	}
	if d := find(v1alpha1.ConditionDegraded); d.Status == metav1.ConditionTrue {
		return notReady(d)
	}
	if c := find(v1alpha1.ConditionCredentialsReady); c.Status != metav1.ConditionTrue {
		return notReady(c)
	}
	a := find(v1alpha1.ConditionAvailable)
	if a.Status != metav1.ConditionTrue {
		// A claim that cannot bind is the likely cause of a pod that does not
		// start: name it rather than the symptom.
		s := find(v1alpha1.ConditionStorageReady)
		if s.Reason == v1alpha1.ReasonClaimConflict ||
			s.Status != metav1.ConditionTrue && obs.Claim != nil && obs.Claim.Status.Phase != corev1.ClaimBound {
			return notReady(s)
		}
		return notReady(a)
	}
	if !obs.ServiceExists {
		return conditions.False(v1alpha1.ConditionReady, v1alpha1.ReasonServiceMissing,
			fmt.Sprintf("Waiting for Service %s to be created", ServiceName(db)))
	}
	return conditions.True(v1alpha1.ConditionReady, v1alpha1.ReasonAvailable,
		fmt.Sprintf("PostgreSQL %s is available at %s", postgresVersion(db), Endpoint(db)))
}
