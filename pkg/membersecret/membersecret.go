// Package membersecret is the contract of a member cluster's kubeconfig
// Secret on the hub: how it is recognised, where the kubeconfig lives, the
// annotations a platform team sets to tune a member, and the annotations the
// hub writes to report it. The cluster provider, the kubectl plugin, the DNS
// controller and the tests all read it from here; it imports nothing.
package membersecret

const (
	// Label marks a hub Secret as a member kubeconfig (multicluster-runtime's
	// kubeconfig provider uses the same label, so its Secrets work here).
	Label = "sigs.k8s.io/multicluster-runtime-kubeconfig"
	// Key is the data key holding the kubeconfig.
	Key = "kubeconfig"
)

// Set by the platform team to tune one member.
const (
	// AnnotationContext names the kubeconfig context to use instead of current-context.
	AnnotationContext = "app.54b3r.io/context"
	// AnnotationQPS and AnnotationBurst override the hub's per-member client rate limits.
	AnnotationQPS   = "app.54b3r.io/qps"
	AnnotationBurst = "app.54b3r.io/burst"
	// AnnotationTimeout overrides the per-request timeout (a Go duration, e.g. "15s").
	AnnotationTimeout = "app.54b3r.io/request-timeout"
)

// Written by the hub when they change, read by `kubectl fleethub list`.
const (
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
	// AnnotationReplica names the hub replica that serves the member (the
	// one whose shard it is; the leader when the hub runs unsharded).
	AnnotationReplica = "app.54b3r.io/member-replica"
	// AnnotationClusterIdentity is the member's identity: the UID of its
	// IdentityNamespace. Only the Secret holding that identity records it; a
	// second Secret for the same cluster is Rejected (ReasonDuplicateCluster).
	AnnotationClusterIdentity = "app.54b3r.io/cluster-identity"
)

// IdentityNamespace is the namespace whose UID identifies a member cluster
// (the convention of OpenTelemetry's k8s.cluster.uid and of SIG-Multicluster's
// cluster.clusterset.k8s.io ClusterProperty): it exists in every cluster,
// lives as long as the cluster, and is new when the cluster is rebuilt.
const IdentityNamespace = "kube-system"

// Reasons the hub reports on a member Secret (annotation and Event) that
// other components act on.
const (
	// ReasonDuplicateCluster: the Secret's cluster is already registered under another Secret.
	ReasonDuplicateCluster = "DuplicateCluster"
	// ReasonIdentityChanged: the cluster behind a Secret is not the one it was (rebuilt, or the kubeconfig points elsewhere).
	ReasonIdentityChanged = "ClusterIdentityChanged"
	// ReasonInvalidKubeconfig is the Event reason for a Secret whose kubeconfig is refused.
	ReasonInvalidKubeconfig = "InvalidKubeconfig"
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
