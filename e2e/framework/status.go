package framework

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/pkg/membersecret"
)

// Kinds are fleethub's kinds, in the order status tables list them.
var Kinds = []string{"WebApp", "SimpleDB", "DomainManager"}

// Row is one fleethub object in the fleet status.
type Row struct {
	Cluster, Kind, Namespace, Name string
	Ready, Reason, Message         string
	Age                            time.Duration
}

// Status lists every fleethub object in every member, with its Ready
// condition. Kinds a member has no CRD for are left out.
func (f *Fleet) Status(ctx context.Context) ([]Row, error) {
	var rows []Row
	for _, m := range f.Members {
		for _, kind := range Kinds {
			list := &unstructured.UnstructuredList{}
			gvk := GVK(kind)
			gvk.Kind += "List"
			list.SetGroupVersionKind(gvk)
			if err := m.Client.List(ctx, list); err != nil {
				if meta.IsNoMatchError(err) {
					continue
				}
				return nil, fmt.Errorf("%s: listing %ss: %w", m.Name, kind, err)
			}
			for _, o := range list.Items {
				r := Row{Cluster: m.Name, Kind: kind, Namespace: o.GetNamespace(), Name: o.GetName(), Ready: "Unknown",
					Age: time.Since(o.GetCreationTimestamp().Time).Round(time.Second)}
				if c, ok := Condition(&o, "Ready"); ok {
					r.Ready, r.Reason, r.Message = c["status"], c["reason"], c["message"]
				}
				rows = append(rows, r)
			}
		}
	}
	return rows, nil
}

// Condition returns a condition of an unstructured object's status as strings.
func Condition(o *unstructured.Unstructured, condType string) (map[string]string, bool) {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, raw := range conds {
		c, ok := raw.(map[string]any)
		if !ok || c["type"] != condType {
			continue
		}
		out := map[string]string{}
		for k, v := range c {
			out[k] = fmt.Sprint(v)
		}
		return out, true
	}
	return nil, false
}

// PrintStatus writes the members as the hub sees them and the status table.
func (f *Fleet) PrintStatus(ctx context.Context, w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tREGISTERED\tSTATE\tREASON\tKINDS\tLAST EVENT")
	for _, m := range f.Members {
		registered, state, reason, kinds, last := "no", "-", "-", "-", "-"
		s := &corev1.Secret{}
		if err := f.Hub.Client.Get(ctx, client.ObjectKey{Namespace: HubNamespace, Name: m.Name}, s); err == nil {
			registered = "yes"
			state = dash(s.Annotations[membersecret.AnnotationState])
			reason = dash(s.Annotations[membersecret.AnnotationReason])
			kinds = dash(s.Annotations[membersecret.AnnotationKinds])
			last = f.lastSecretEvent(ctx, s)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, registered, state, reason, kinds, last)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)

	rows, err := f.Status(ctx)
	if err != nil {
		return err
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tKIND\tNAMESPACE\tNAME\tREADY\tREASON\tAGE\tMESSAGE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Cluster, r.Kind, r.Namespace, r.Name, r.Ready, dash(r.Reason), r.Age, truncate(r.Message, 60))
	}
	if len(rows) == 0 {
		fmt.Fprintln(tw, "(no fleethub objects in any member)")
	}
	return tw.Flush()
}

// lastSecretEvent is the newest hub event about a member's Secret.
func (f *Fleet) lastSecretEvent(ctx context.Context, s *corev1.Secret) string {
	var evs eventsv1.EventList
	if err := f.Hub.Client.List(ctx, &evs, client.InNamespace(HubNamespace)); err != nil {
		return "?"
	}
	var mine []eventsv1.Event
	for _, e := range evs.Items {
		if e.Regarding.UID == s.UID {
			mine = append(mine, e)
		}
	}
	if len(mine) == 0 {
		return "(no events yet)"
	}
	sort.Slice(mine, func(i, j int) bool { return eventTime(mine[i]).Before(eventTime(mine[j])) })
	last := mine[len(mine)-1]
	return last.Reason + ": " + truncate(last.Note, 80)
}

func eventTime(e eventsv1.Event) time.Time {
	if !e.EventTime.IsZero() {
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func truncate(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}
