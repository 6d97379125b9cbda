package shard_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/cmd/manager/app"
	"github.com/fleethub/fleethub/cmd/manager/app/fleettest"
	"github.com/fleethub/fleethub/pkg/config"
	"github.com/fleethub/fleethub/pkg/membersecret"
	"github.com/fleethub/fleethub/pkg/shard"
	"github.com/fleethub/fleethub/providers/dns/cloudflare/cloudflaretest"
	"github.com/fleethub/fleethub/providers/kubeconfig"
)

const token = "shard-test-token"

// write is one write request a replica sent to a member.
type write struct {
	replica, member, what string
	at                    time.Time
}

// writeLog records, per replica, every write the hub sends to members.
type writeLog struct {
	mu     sync.Mutex
	writes []write
}

type loggingTransport struct {
	log             *writeLog
	replica, member string
	next            http.RoundTripper
}

func (t loggingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet {
		t.log.mu.Lock()
		t.log.writes = append(t.log.writes, write{replica: t.replica, member: t.member, what: r.Method + " " + r.URL.Path, at: time.Now()})
		t.log.mu.Unlock()
	}
	return t.next.RoundTrip(r)
}

func (l *writeLog) since(t time.Time) []write {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []write
	for _, w := range l.writes {
		if !w.at.Before(t) {
			out = append(out, w)
		}
	}
	return out
}

// replica is one hub process of the sharded hub.
type replica struct {
	id       string
	provider *kubeconfig.Provider
	cancel   context.CancelFunc
	done     chan error
	stopped  bool
}

func startReplica(t *testing.T, fleet *fleettest.Fleet, cfg config.Config, id string, log *writeLog) *replica {
	t.Helper()
	cfg.Sharding.ReplicaID = id
	mgr, prov, err := app.New(fleet.Hub.Config, cfg, app.Options{
		MemberRESTConfig: func(name string, rc *rest.Config) {
			rc.Wrap(func(rt http.RoundTripper) http.RoundTripper {
				return loggingTransport{log: log, replica: id, member: name, next: rt}
			})
		},
		SkipControllerNameValidation: true,
		ShardProbe:                   200 * time.Millisecond,
	})
	fleettest.Must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{id: id, provider: prov, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- mgr.Start(ctx) }()
	return r
}

func (r *replica) stop(t *testing.T) {
	t.Helper()
	if r.stopped {
		return
	}
	r.stopped = true
	r.cancel()
	select {
	case err := <-r.done:
		fleettest.Must(t, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("replica %s did not stop within 30s", r.id)
	}
}

// served lists the members a replica has engaged and handed to its controllers.
func (r *replica) served() []string {
	var out []string
	for name, ok := range r.provider.Members() {
		if ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// gauge reads one series of a fleethub_hub_* gauge for a replica.
func gauge(name, id string) float64 {
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		return -1
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "replica" && l.GetValue() == id {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}

// owners maps each member to the replicas serving it.
func owners(replicas []*replica) map[string][]string {
	out := map[string][]string{}
	for _, r := range replicas {
		for _, m := range r.served() {
			out[m] = append(out[m], r.id)
		}
	}
	return out
}

// exactlyOne checks that every member is served by exactly one replica, that
// its fence Lease names that replica and its Secret says so.
func exactlyOne(ctx context.Context, fleet *fleettest.Fleet, replicas []*replica, members []string) (map[string]string, error) {
	got := owners(replicas)
	out := map[string]string{}
	for _, m := range members {
		if len(got[m]) != 1 {
			return nil, fmt.Errorf("member %s served by %v (all: %v)", m, got[m], got)
		}
		out[m] = got[m][0]
		lease := &coordinationv1.Lease{}
		if err := fleet.Hub.Client.Get(ctx, client.ObjectKey{Namespace: fleettest.HubNamespace, Name: shard.FenceLeasePrefix + "-" + m}, lease); err != nil {
			return nil, fmt.Errorf("fence of %s: %w", m, err)
		}
		if h := lease.Spec.HolderIdentity; h == nil || *h != out[m] {
			return nil, fmt.Errorf("fence of %s held by %v, served by %s", m, h, out[m])
		}
		s := &corev1.Secret{}
		if err := fleet.Hub.Client.Get(ctx, client.ObjectKey{Namespace: fleettest.HubNamespace, Name: m}, s); err != nil {
			return nil, err
		}
		if r := s.Annotations[membersecret.AnnotationReplica]; r != out[m] || s.Annotations[membersecret.AnnotationState] != string(membersecret.StateReady) {
			return nil, fmt.Errorf("Secret %s says replica %q state %q, served by %s", m, r, s.Annotations[membersecret.AnnotationState], out[m])
		}
	}
	return out, nil
}

func webApp(ns, name string) *v1alpha1.WebApp {
	two := int32(2)
	return &v1alpha1.WebApp{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1alpha1.WebAppSpec{Image: "nginx:1.27", Replicas: &two, Port: 8080}}
}

func domain(ns, name, fqdn string) *v1alpha1.DomainManager {
	return &v1alpha1.DomainManager{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.DomainManagerSpec{DomainName: fqdn, RecordType: v1alpha1.DNSRecordType("A"), Value: "203.0.113.10"}}
}

// children waits until every member's namespace has exactly the Deployments
// of its WebApps and one DNS record per DomainManager.
func converged(ctx context.Context, fleet *fleettest.Fleet, cf *cloudflaretest.Server, ns string, members []string, apps []string) error {
	for _, m := range members {
		deps := &appsv1.DeploymentList{}
		if err := fleet.Members[m].Client.List(ctx, deps, client.InNamespace(ns)); err != nil {
			return err
		}
		var names []string
		for _, d := range deps.Items {
			names = append(names, d.Name)
		}
		sort.Strings(names)
		if !slices.Equal(names, apps) {
			return fmt.Errorf("member %s has Deployments %v, want %v", m, names, apps)
		}
		if recs := cf.Find(m+".example.com", "A"); len(recs) != 1 {
			return fmt.Errorf("member %s: %d records for %s.example.com", m, len(recs), m)
		}
	}
	return nil
}

// TestShardedReplicasShareTheFleet runs three sharded replicas in one
// process against a hub and six members: every member is served by exactly
// one replica; when one stops, its members move to the others; no member is
// ever written by two replicas in turn; children and DNS records are not
// duplicated; and a converged fleet costs no writes.
func TestShardedReplicasShareTheFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	fleettest.SetupLogging()
	members := []string{"m1", "m2", "m3", "m4", "m5", "m6"}
	fleet, err := fleettest.Start(members...)
	fleettest.Must(t, err)
	defer fleet.Stop()
	ctx := context.Background()

	cf := cloudflaretest.NewServer(token)
	defer cf.Close()
	cf.AddZone("example.com")
	fleettest.Must(t, fleet.Hub.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "dns-credentials", Namespace: fleettest.HubNamespace},
		Data:       map[string][]byte{"apiToken": []byte(token)},
	}))

	cfg := fleettest.TestConfig()
	cfg.Sharding = config.ShardingConfig{Enabled: true, LeaseDuration: 6 * time.Second}
	cfg.DNS = config.DNSConfig{
		Provider: config.DNSProviderCloudflare, CredentialsSecret: "dns-credentials", CloudflareAPIURL: cf.BaseURL(),
		HubID: "shard-test", AllowedSuffixes: "example.com", RateLimitBackoff: 2 * time.Second,
		RequestsPerSecond: 300, RequestTimeout: 2 * time.Second,
	}
	log := &writeLog{}
	var replicas []*replica
	for _, id := range []string{"hub-a", "hub-b", "hub-c"} {
		r := startReplica(t, fleet, cfg, id, log)
		defer r.stop(t)
		replicas = append(replicas, r)
	}
	// Every replica sees the other two before the members arrive, so the
	// first assignment is the final one.
	fleettest.Must(t, fleettest.Eventually(ctx, 40*time.Second, func() error {
		for _, r := range replicas {
			if n := gauge("fleethub_hub_replicas", r.id); n != 3 {
				return fmt.Errorf("replica %s sees %v replicas", r.id, n)
			}
		}
		return nil
	}))
	for _, m := range members {
		fleettest.Must(t, fleet.Register(ctx, m))
	}
	var assigned map[string]string
	fleettest.Must(t, fleettest.Eventually(ctx, 60*time.Second, func() error {
		var err error
		assigned, err = exactlyOne(ctx, fleet, replicas, members)
		return err
	}))
	t.Logf("members by replica: %v", assigned)

	ns := fleet.Namespace(t, members...)
	for _, m := range members {
		c := fleet.Members[m].Client
		fleettest.Must(t, c.Create(ctx, webApp(ns, "web")))
		fleettest.Must(t, c.Create(ctx, domain(ns, "www", m+".example.com")))
	}
	fleettest.Must(t, fleettest.Eventually(ctx, 60*time.Second, func() error {
		return converged(ctx, fleet, cf, ns, members, []string{"web"})
	}))

	steady := func(phase string) {
		t.Helper()
		// Let settling writes finish, then watch two resyncs.
		time.Sleep(3 * time.Second)
		from := time.Now()
		time.Sleep(2*cfg.ResyncInterval + time.Second)
		if w := log.since(from); len(w) != 0 {
			t.Errorf("%s: a converged fleet was written %d times, first %+v", phase, len(w), w[0])
		}
	}
	steady("before the handover")

	// Stop the replica serving the most members.
	count := map[string]int{}
	for _, r := range assigned {
		count[r]++
	}
	victim := replicas[0]
	for _, r := range replicas {
		if count[r.id] > count[victim.id] {
			victim = r
		}
	}
	var moved []string
	for m, r := range assigned {
		if r == victim.id {
			moved = append(moved, m)
		}
	}
	sort.Strings(moved)
	stopAt := time.Now()
	victim.stop(t)
	stopped := time.Now()
	rest := slices.DeleteFunc(slices.Clone(replicas), func(r *replica) bool { return r == victim })
	var after map[string]string
	fleettest.Must(t, fleettest.Eventually(ctx, 60*time.Second, func() error {
		var err error
		after, err = exactlyOne(ctx, fleet, rest, members)
		return err
	}))
	took := time.Since(stopAt)
	t.Logf("replica %s stopped (serving %v); its members were served elsewhere after %s: %v", victim.id, moved, took.Round(100*time.Millisecond), after)
	// A graceful stop withdraws the peer Lease: the others take over at their
	// next look at the peers (every 10s), well within the peer Lease TTL (30s).
	if took > 30*time.Second {
		t.Errorf("handover took %s, longer than the peer Lease TTL", took)
	}
	for m, r := range assigned {
		if r != victim.id && after[m] != r {
			t.Errorf("member %s moved from %s to %s though its replica stayed", m, r, after[m])
		}
	}

	// The new owners reconcile: a new WebApp in every member converges.
	for _, m := range members {
		fleettest.Must(t, fleet.Members[m].Client.Create(ctx, webApp(ns, "api")))
	}
	fleettest.Must(t, fleettest.Eventually(ctx, 60*time.Second, func() error {
		return converged(ctx, fleet, cf, ns, members, []string{"api", "web"})
	}))
	steady("after the handover")

	// No member was ever written by two replicas in turn, and the stopped
	// replica wrote nothing once stopped.
	byMember := map[string][]string{}
	for _, w := range log.since(time.Time{}) {
		if w.replica == victim.id && w.at.After(stopped) {
			t.Errorf("stopped replica %s wrote %s to %s", w.replica, w.what, w.member)
		}
		seq := byMember[w.member]
		if len(seq) == 0 || seq[len(seq)-1] != w.replica {
			byMember[w.member] = append(seq, w.replica)
		}
	}
	for _, m := range members {
		seq := byMember[m]
		want := 1
		if slices.Contains(moved, m) {
			want = 2
		}
		if len(seq) != want {
			t.Errorf("member %s was written by %s in turn; want %d writer(s)", m, strings.Join(seq, " → "), want)
		}
	}
	if n := len(cf.Records("example.com")); n != len(members) {
		t.Errorf("%d DNS records for %d DomainManagers: %+v", n, len(members), cf.Records("example.com"))
	}
}
