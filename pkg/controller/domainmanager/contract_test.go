package domainmanager

import (
	"testing"

	"github.com/fleethub/fleethub/providers/kubeconfig"
)

// The controller reads the member-Secret contract by value; this keeps it
// equal to what the kubeconfig provider writes.
func TestMemberSecretContract(t *testing.T) {
	if clusterIdentityAnnotation != kubeconfig.AnnotationClusterIdentity {
		t.Errorf("identity annotation %q, provider writes %q", clusterIdentityAnnotation, kubeconfig.AnnotationClusterIdentity)
	}
	if memberSecretLabel != kubeconfig.SecretLabel {
		t.Errorf("member label %q, provider uses %q", memberSecretLabel, kubeconfig.SecretLabel)
	}
}
