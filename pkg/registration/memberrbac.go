package registration

// What the hub reads in every member besides what its controllers need (those
// markers live with the controllers): the UID of kube-system, the member's
// identity (providers/kubeconfig reads it at engagement). `make manifests`
// generates deploy/member/rbac/role.yaml from both.
// +kubebuilder:rbac:groups="",resources=namespaces,resourceNames=kube-system,verbs=get
