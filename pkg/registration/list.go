package registration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/pkg/membersecret"
)

// Member is one registered member as the hub reports it in the annotations of
// its Secret. Empty fields are annotations the hub has not written (yet).
type Member struct {
	Name            string   `json:"name"`
	State           string   `json:"state,omitempty"`
	Reason          string   `json:"reason,omitempty"`
	Message         string   `json:"message,omitempty"`
	Kinds           []string `json:"kinds,omitempty"`
	LastTransition  string   `json:"lastTransition,omitempty"`
	TokenExpiration string   `json:"tokenExpiration,omitempty"`
	// Replica is the hub replica serving the member.
	Replica string `json:"replica,omitempty"`
}

// List reads the member Secrets in the hub namespace.
func List(ctx context.Context, hub *rest.Config, hubContext, namespace string) ([]Member, error) {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	t := target{role: "hub", context: hubContext, cfg: hub}
	if err := checkReachable(t); err != nil {
		return nil, err
	}
	c, err := client.New(hub, client.Options{Scheme: scheme()})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t, err)
	}
	secrets := &corev1.SecretList{}
	if err := c.List(ctx, secrets, client.InNamespace(namespace), client.MatchingLabels{membersecret.Label: "true"}); err != nil {
		return nil, explain(t, "listing secrets in "+namespace, err)
	}
	return Members(secrets.Items), nil
}

// Members turns member Secrets into rows, sorted by name.
func Members(secrets []corev1.Secret) []Member {
	out := make([]Member, 0, len(secrets))
	for _, s := range secrets {
		a := s.Annotations
		m := Member{
			Name:            s.Name,
			State:           strings.TrimSpace(a[membersecret.AnnotationState]),
			Reason:          strings.TrimSpace(a[membersecret.AnnotationReason]),
			Message:         strings.TrimSpace(a[membersecret.AnnotationMessage]),
			LastTransition:  strings.TrimSpace(a[membersecret.AnnotationLastTransition]),
			TokenExpiration: strings.TrimSpace(a[AnnotationTokenExpiration]),
			Replica:         strings.TrimSpace(a[membersecret.AnnotationReplica]),
		}
		for _, k := range strings.Split(a[membersecret.AnnotationKinds], ",") {
			if k = strings.TrimSpace(k); k != "" {
				m.Kinds = append(m.Kinds, k)
			}
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// WriteTable prints members as a table; wide adds the serving hub replica,
// the token expiry and the message. Absent values print as "-".
func WriteTable(w io.Writer, members []Member, wide bool) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	header := "NAME\tSTATE\tREASON\tKINDS\tLAST TRANSITION"
	if wide {
		header += "\tREPLICA\tTOKEN EXPIRES\tMESSAGE"
	}
	fmt.Fprintln(tw, header)
	for _, m := range members {
		row := []string{m.Name, m.State, m.Reason, strings.Join(m.Kinds, ","), m.LastTransition}
		if wide {
			row = append(row, m.Replica, m.TokenExpiration, m.Message)
		}
		for i := range row {
			// A cell is one line without tabs, whatever an annotation holds.
			if row[i] = oneLine(row[i]); row[i] == "" {
				row[i] = "-"
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// WriteJSON prints members as a JSON array (empty: []).
func WriteJSON(w io.Writer, members []Member) error {
	if members == nil {
		members = []Member{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(members)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
