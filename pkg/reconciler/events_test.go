package reconciler

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/apply"
)

func drain(rec *events.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestReadyEvent(t *testing.T) {
	ready := func(s metav1.ConditionStatus) []metav1.Condition {
		return []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: s, Reason: "R", Message: "m"}}
	}
	tests := []struct {
		name          string
		before, after []metav1.Condition
		want          string // prefix of the Event, "" for none
	}{
		{"first report not ready is not news", nil, ready(metav1.ConditionFalse), ""},
		{"first report ready is", nil, ready(metav1.ConditionTrue), "Normal R Ready=True"},
		{"became ready", ready(metav1.ConditionFalse), ready(metav1.ConditionTrue), "Normal R Ready=True"},
		{"lost ready is a warning", ready(metav1.ConditionTrue), ready(metav1.ConditionFalse), "Warning R Ready=False"},
		{"unchanged", ready(metav1.ConditionTrue), ready(metav1.ConditionTrue), ""},
		{"no ready condition", ready(metav1.ConditionTrue), nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := events.NewFakeRecorder(10)
			ReadyEvent(rec, &v1alpha1.WebApp{}, tc.before, tc.after)
			got := drain(rec)
			switch {
			case tc.want == "" && len(got) != 0:
				t.Errorf("events = %q, want none", got)
			case tc.want != "" && (len(got) != 1 || !strings.HasPrefix(got[0], tc.want)):
				t.Errorf("events = %q, want one starting %q", got, tc.want)
			}
		})
	}
}

func TestChildEventsBatches(t *testing.T) {
	rec := events.NewFakeRecorder(10)
	e := NewChildEvents(rec, &v1alpha1.WebApp{})
	ctx := context.Background()
	e.Report(ctx, "Deployment", "a", apply.Created)
	e.Report(ctx, "Service", "a", apply.Created)
	e.Report(ctx, "PersistentVolumeClaim", "a-data", apply.Updated)
	e.Report(ctx, "Secret", "a", apply.Unchanged)
	e.Flush()
	e.Flush() // a second flush has nothing left to say
	got := drain(rec)
	want := []string{
		"Normal Created Created Deployment a, Service a",
		"Normal Updated Updated PersistentVolumeClaim a-data to match the spec",
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("events = %q, want %q", got, want)
	}
}

func TestStalledEvent(t *testing.T) {
	stalled := func(reason string) []metav1.Condition {
		return []metav1.Condition{{Type: v1alpha1.ConditionStalled, Status: metav1.ConditionTrue, Reason: reason, Message: "m"}}
	}
	tests := []struct {
		name          string
		before, after []metav1.Condition
		want          bool
	}{
		{"became stalled", nil, stalled("ChildConflict"), true},
		{"still stalled, same reason", stalled("ChildConflict"), stalled("ChildConflict"), false},
		{"stalled for another reason", stalled("ChildConflict"), stalled("InvalidSpec"), true},
		{"no longer stalled", stalled("ChildConflict"), nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := events.NewFakeRecorder(10)
			StalledEvent(rec, &v1alpha1.WebApp{}, tc.before, tc.after)
			got := drain(rec)
			if (len(got) == 1) != tc.want || len(got) > 1 {
				t.Errorf("events = %q, want one: %v", got, tc.want)
			}
			if tc.want && !strings.HasPrefix(got[0], "Warning ") {
				t.Errorf("event %q is not a Warning", got[0])
			}
		})
	}
}

func TestAnnounceOneWarning(t *testing.T) {
	before := []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Available"}}
	after := []metav1.Condition{
		{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: "ChildConflict", Message: "m"},
		{Type: v1alpha1.ConditionStalled, Status: metav1.ConditionTrue, Reason: "ChildConflict", Message: "m"},
	}
	rec := events.NewFakeRecorder(10)
	Announce(rec, &v1alpha1.WebApp{}, before, after)
	if got := drain(rec); len(got) != 1 || !strings.HasPrefix(got[0], "Warning ChildConflict Stalled") {
		t.Errorf("events = %q, want one Stalled Warning", got)
	}
	rec = events.NewFakeRecorder(10)
	Announce(rec, &v1alpha1.WebApp{}, after, before)
	if got := drain(rec); len(got) != 1 || !strings.HasPrefix(got[0], "Normal Available Ready=True") {
		t.Errorf("events = %q, want one Ready=True", got)
	}
}
