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

// Meta-condition types with Flux's semantics, understood by kstatus (and so by
// Flux and Argo CD health checks): Reconciling=True while fleethub is still
// working towards the spec, Stalled=True when it cannot get there without a
// change by someone else. Both are present only while True; they are never
// True together, and Stalled=True always comes with Ready=False.
const (
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"
)

// Reasons shared by the kinds' ownership and adoption rules.
const (
	// ReasonChildConflict: a child's name is held by an object this CR does
	// not control; fleethub leaves it untouched.
	ReasonChildConflict = "ChildConflict"
	// ReasonAdoptionRefused: a retained child cannot be adopted as it is.
	ReasonAdoptionRefused = "AdoptionRefused"
)

// Annotations fleethub records on children whose ownership cannot be an
// ownerReference (a reference would let the member's garbage collector delete
// them, whatever the propagation policy).
const (
	// AnnotationOwnerUID holds the UID of the CR that currently owns the child.
	AnnotationOwnerUID = "app.54b3r.io/owner-uid"
	// AnnotationOwnerKind holds the kind of that CR.
	AnnotationOwnerKind = "app.54b3r.io/owner-kind"
)
