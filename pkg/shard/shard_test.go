package shard

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestLeaseHeld(t *testing.T) {
	now := time.Now()
	lease := func(holder string, renewed time.Duration, seconds int32) *coordinationv1.Lease {
		return &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{
			HolderIdentity: ptr.To(holder), RenewTime: &metav1.MicroTime{Time: now.Add(-renewed)}, LeaseDurationSeconds: ptr.To(seconds),
		}}
	}
	for name, tc := range map[string]struct {
		l    *coordinationv1.Lease
		want bool
	}{
		"renewed within its term": {lease("pod-a", 5*time.Second, 15), true},
		"term ran out":            {lease("pod-a", 20*time.Second, 15), false},
		"released (no holder)":    {lease("", time.Second, 15), false},
		"never renewed":           {&coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("pod-a")}}, false},
	} {
		if got := leaseHeld(tc.l, now); got != tc.want {
			t.Errorf("%s: held = %v, want %v", name, got, tc.want)
		}
	}
}
