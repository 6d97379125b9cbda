package kubeconfig

// Annotations on a member's kubeconfig Secret. The first group is set by the
// platform team to tune one member; the second is written by the hub to report
// the member's health (only when it changes) and read by `kubectl fleethub list`.
const (
	// AnnotationContext names the kubeconfig context to use instead of current-context.
	AnnotationContext = "app.54b3r.io/context"
	// AnnotationQPS and AnnotationBurst override the hub's per-member client rate limits.
	AnnotationQPS   = "app.54b3r.io/qps"
	AnnotationBurst = "app.54b3r.io/burst"
	// AnnotationTimeout overrides the per-request timeout (a Go duration, e.g. "15s").
	AnnotationTimeout = "app.54b3r.io/request-timeout"

	// AnnotationState is the member's state (see State).
	AnnotationState = "app.54b3r.io/member-state"
	// AnnotationReason is a CamelCase reason for the state.
	AnnotationReason = "app.54b3r.io/member-reason"
	// AnnotationMessage explains the state to a person.
	AnnotationMessage = "app.54b3r.io/member-message"
	// AnnotationLastTransition is when the state last changed (RFC 3339).
	AnnotationLastTransition = "app.54b3r.io/member-last-transition"
	// AnnotationKinds lists the fleethub kinds engaged in the member, comma-separated.
	AnnotationKinds = "app.54b3r.io/member-kinds"
	// AnnotationClusterIdentity is the member's identity: the UID of its
	// kube-system namespace. Only the Secret holding that identity records
	// it; a second Secret for the same cluster is Rejected (DuplicateCluster).
	AnnotationClusterIdentity = "app.54b3r.io/cluster-identity"
)

// State is a member cluster's health as the hub sees it.
type State string

const (
	// StateConnecting: registered, first connection not yet made.
	StateConnecting State = "Connecting"
	// StateReady: connected and every fleethub kind is engaged.
	StateReady State = "Ready"
	// StateMissingCRDs: connected, but some fleethub CRDs are not installed;
	// the kinds that are installed are engaged.
	StateMissingCRDs State = "MissingCRDs"
	// StateUnreachable: the member's apiserver does not answer.
	StateUnreachable State = "Unreachable"
	// StateUnauthorized: the member refuses the hub's credentials (401/403).
	StateUnauthorized State = "Unauthorized"
	// StateRejected: the kubeconfig Secret is invalid or unsafe; nothing is attempted.
	StateRejected State = "Rejected"
)

// States lists every state, for metrics and docs.
var States = []State{StateConnecting, StateReady, StateMissingCRDs, StateUnreachable, StateUnauthorized, StateRejected}
