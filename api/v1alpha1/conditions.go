package v1alpha1

// Finalizer is set on every fleethub CR so cleanup runs before it goes away.
const Finalizer = "app.54b3r.io/finalizer"

// Condition types shared by all kinds. Ready is the summary condition that
// kstatus, Flux and Argo CD health checks understand.
const (
	ConditionReady       = "Ready"
	ConditionAvailable   = "Available"
	ConditionProgressing = "Progressing"
	ConditionDegraded    = "Degraded"
)

// Condition reasons. They are CamelCase and stable: alerts and scripts match on them.
const (
	ReasonAvailable           = "Available"
	ReasonReconciling         = "Reconciling"
	ReasonReconciled          = "Reconciled"
	ReasonProgressing         = "Progressing"
	ReasonRolloutComplete     = "RolloutComplete"
	ReasonRolloutStalled      = "RolloutStalled"
	ReasonReplicasUnavailable = "ReplicasUnavailable"
	ReasonScaledToZero        = "ScaledToZero"
	ReasonDeploymentMissing   = "DeploymentMissing"
	ReasonApplyFailed         = "ApplyFailed"
	ReasonInvalidSpec         = "InvalidSpec"
	ReasonAsExpected          = "AsExpected"
	ReasonDeleting            = "Deleting"
)

// Labels fleethub puts on every child object. The managed-by label is also the
// filter of the hub's member caches: objects without it cost the hub nothing.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelComponent = "app.kubernetes.io/component"
	ManagedByValue = "fleethub"
)

// FieldManager is the one Server-Side Apply field manager fleethub writes with.
const FieldManager = "fleethub"
