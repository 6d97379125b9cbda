package reconciler

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleethub/fleethub/api/v1alpha1"
)

func TestSetProgress(t *testing.T) {
	now := metav1.Now()
	ready := metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: "X"}
	reconciling := metav1.Condition{Type: v1alpha1.ConditionReconciling, Status: metav1.ConditionTrue, Reason: "Progressing"}
	stalled := metav1.Condition{Type: v1alpha1.ConditionStalled, Status: metav1.ConditionTrue, Reason: "ChildConflict"}
	tests := []struct {
		name  string
		start []metav1.Condition
		p     Progress
		want  []string // condition types present afterwards, in order
	}{
		{"done on empty stays empty", nil, Done, nil},
		{"done removes both", []metav1.Condition{ready, reconciling, stalled}, Done, []string{"Ready"}},
		{"reconciling replaces stalled", []metav1.Condition{ready, stalled}, Reconciling, []string{"Ready", "Reconciling"}},
		{"stalled replaces reconciling", []metav1.Condition{ready, reconciling}, Stalled, []string{"Ready", "Stalled"}},
		{"stalled again keeps one", []metav1.Condition{stalled}, Stalled, []string{"Stalled"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conds := append([]metav1.Condition(nil), tc.start...)
			SetProgress(&conds, tc.p, "R", "m", 3, now)
			var got []string
			for _, c := range conds {
				got = append(got, c.Type)
				if (c.Type == v1alpha1.ConditionReconciling || c.Type == v1alpha1.ConditionStalled) && c.Status != metav1.ConditionTrue {
					t.Errorf("%s present with status %s; meta-conditions are present only while True", c.Type, c.Status)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("conditions = %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("conditions = %v, want %v", got, tc.want)
				}
			}
			if ProgressOf(conds) != tc.p {
				t.Errorf("ProgressOf = %v, want %v", ProgressOf(conds), tc.p)
			}
		})
	}
}

// An unchanged verdict keeps its transition time, so re-computing writes nothing.
func TestSetProgressKeepsTransitionTime(t *testing.T) {
	first := metav1.NewTime(metav1.Now().Add(-3600e9))
	var conds []metav1.Condition
	SetProgress(&conds, Stalled, "ChildConflict", "m", 1, first)
	SetProgress(&conds, Stalled, "ChildConflict", "m", 1, metav1.Now())
	if got := conds[0].LastTransitionTime; !got.Equal(&first) {
		t.Errorf("LastTransitionTime moved to %v", got)
	}
}
