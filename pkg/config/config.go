// Package config turns flags and environment variables into the manager's
// configuration. Every flag has an environment variable (FLEETHUB_ + the flag
// name in upper case with dashes as underscores); a flag given on the command
// line wins over the environment, which wins over the default.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Config is the hub manager's configuration.
type Config struct {
	HubNamespace            string
	ResyncInterval          time.Duration
	MetricsAddr             string
	ProbeAddr               string
	PprofAddr               string
	LeaderElect             bool
	LeaderElectionID        string
	LogLevel                string
	LogFormat               string
	MaxConcurrentReconciles int
	MemberEngageTimeout     time.Duration
	MemberQPS               float64
	MemberBurst             int
	MemberRequestTimeout    time.Duration
	MemberProbeInterval     time.Duration
	AllowExecPlugins        bool
	AllowInsecureMembers    bool
	InstallCRDs             bool
	PostgresImageRepository string
	Kubeconfig              string
	// DNS configures DomainManagers (flags --dns-*).
	DNS DNSConfig
	// Fairness bounds each reconcile (--reconcile-timeout).
	Fairness FairnessConfig
	// Members bounds what member Secrets may decide (flags --allow-member-*,
	// --member-allowed-servers, --member-failure-threshold).
	Members MemberSafetyConfig
	// Sharding divides the members among replicas (--sharding, --replica-id,
	// --shard-lease-duration).
	Sharding ShardingConfig
}

// EnvPrefix starts every environment variable fleethub reads.
const EnvPrefix = "FLEETHUB_"

// EnvName is the environment variable that sets flag name.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// defaultHubNamespace is the namespace the manager runs in when deployed
// (POD_NAMESPACE from the downward API), else fleethub-system.
func defaultHubNamespace(getenv func(string) string) string {
	if ns := getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	return "fleethub-system"
}

// FlagNames lists every flag the manager accepts.
func FlagNames() []string {
	var names []string
	fs, _ := newFlagSet(&Config{}, func(string) string { return "" }, io.Discard)
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

// Parse reads args (without the program name) and the environment through getenv.
func Parse(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var c Config
	fs, err := newFlagSet(&c, getenv, out)
	if err != nil {
		return Config{}, err
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return c, c.Validate()
}

// newFlagSet defines every flag on c and applies the environment to it.
func newFlagSet(c *Config, getenv func(string) string, out io.Writer) (*flag.FlagSet, error) {
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.HubNamespace, "hub-namespace", defaultHubNamespace(getenv), "Hub namespace holding member kubeconfig Secrets, the leader Lease and hub Events.")
	fs.DurationVar(&c.ResyncInterval, "resync-interval", 10*time.Minute, "How often a converged object is reconciled again to catch unreported drift (reads only).")
	fs.StringVar(&c.MetricsAddr, "metrics-bind-address", ":8080", "Address of the Prometheus metrics endpoint; \"0\" disables it.")
	fs.StringVar(&c.ProbeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints; \"0\" disables them.")
	fs.StringVar(&c.PprofAddr, "pprof-bind-address", "0", "Address of the net/http/pprof endpoints for profilers (e.g. Pyroscope scrapes); \"0\" (default) disables them.")
	fs.BoolVar(&c.LeaderElect, "leader-elect", true, "Elect a leader through a Lease in the hub namespace so only one replica reconciles (ignored with --sharding).")
	fs.StringVar(&c.LeaderElectionID, "leader-election-id", "fleethub-leader", "Name of the leader election Lease.")
	fs.StringVar(&c.LogLevel, "log-level", "info", "Log level: debug, info, warn, error, or a verbosity number.")
	fs.StringVar(&c.LogFormat, "log-format", "json", "Log format: json or text.")
	fs.IntVar(&c.MaxConcurrentReconciles, "max-concurrent-reconciles", 4, "Reconciles run in parallel per kind, across all members.")
	fs.DurationVar(&c.MemberEngageTimeout, "member-engage-timeout", 30*time.Second, "Deadline for connecting to a member before retrying with backoff.")
	fs.Float64Var(&c.MemberQPS, "member-qps", 50, "Client-side request rate limit per member cluster.")
	fs.IntVar(&c.MemberBurst, "member-burst", 100, "Client-side request burst per member cluster.")
	fs.DurationVar(&c.MemberRequestTimeout, "member-request-timeout", 30*time.Second, "Timeout of each request to a member (watches excepted).")
	fs.DurationVar(&c.MemberProbeInterval, "member-probe-interval", 30*time.Second, "How often each member's health and installed CRDs are checked.")
	fs.BoolVar(&c.AllowExecPlugins, "allow-exec-plugins", false, "Allow exec and auth-provider plugins in member kubeconfigs. Risky: a Secret could run programs on the hub.")
	fs.BoolVar(&c.InstallCRDs, "install-crds", false, "Server-side apply fleethub's own CRDs to members that lack them (needs deploy/member/crd-installer.yaml in each member).")
	fs.BoolVar(&c.AllowInsecureMembers, "allow-insecure-members", false, "Allow member kubeconfigs with insecure-skip-tls-verify or plain http. Risky: the connection can be intercepted.")
	fs.StringVar(&c.PostgresImageRepository, "postgres-image-repository", "postgres", "Image repository of SimpleDB's PostgreSQL, without tag: the tag is the SimpleDB's major version (e.g. postgres:17). Point it at a mirror for air-gapped members.")
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "Kubeconfig of the hub cluster; in-cluster config or $KUBECONFIG when empty.")
	registerDNSFlags(fs, &c.DNS)
	registerFairnessFlags(fs, &c.Fairness)
	registerMemberSafetyFlags(fs, &c.Members)
	registerShardingFlags(fs, &c.Sharding, getenv)

	// Environment first, so that flags given on the command line override it.
	var envErrs []error
	fs.VisitAll(func(f *flag.Flag) {
		name := EnvName(f.Name)
		if f.Name == "kubeconfig" {
			return // $KUBECONFIG is client-go's own convention
		}
		if v, ok := lookup(getenv, name); ok {
			if err := f.Value.Set(v); err != nil {
				envErrs = append(envErrs, fmt.Errorf("%s=%q: %w", name, v, err))
			}
		}
	})
	return fs, errors.Join(envErrs...)
}

// Validate rejects values the manager cannot run with.
func (c Config) Validate() error {
	var errs []error
	if c.HubNamespace == "" {
		errs = append(errs, errors.New("hub-namespace must not be empty"))
	}
	if c.ResyncInterval < time.Second {
		errs = append(errs, fmt.Errorf("resync-interval must be at least 1s, got %s", c.ResyncInterval))
	}
	if c.MaxConcurrentReconciles < 1 {
		errs = append(errs, fmt.Errorf("max-concurrent-reconciles must be at least 1, got %d", c.MaxConcurrentReconciles))
	}
	if c.MemberEngageTimeout <= 0 {
		errs = append(errs, fmt.Errorf("member-engage-timeout must be positive, got %s", c.MemberEngageTimeout))
	}
	if c.MemberRequestTimeout <= 0 || c.MemberProbeInterval <= 0 {
		errs = append(errs, fmt.Errorf("member-request-timeout and member-probe-interval must be positive, got %s and %s", c.MemberRequestTimeout, c.MemberProbeInterval))
	}
	if c.MemberQPS <= 0 || c.MemberBurst < 1 {
		errs = append(errs, fmt.Errorf("member-qps and member-burst must be positive, got %v and %d", c.MemberQPS, c.MemberBurst))
	}
	if err := validateImageRepository(c.PostgresImageRepository); err != nil {
		errs = append(errs, fmt.Errorf("postgres-image-repository: %w", err))
	}
	switch strings.ToLower(c.LogFormat) {
	case "json", "text", "console":
	default:
		errs = append(errs, fmt.Errorf("log-format must be json or text, got %q", c.LogFormat))
	}
	errs = append(errs, c.DNS.validate()...)
	errs = append(errs, c.Fairness.validate()...)
	errs = append(errs, c.Members.validate()...)
	errs = append(errs, c.Sharding.validate()...)
	return errors.Join(errs...)
}

// validateImageRepository accepts an image reference without tag or digest,
// such as "postgres" or "registry.example.com:5000/mirror/postgres".
func validateImageRepository(repo string) error {
	last := repo[strings.LastIndex(repo, "/")+1:]
	switch {
	case repo == "":
		return errors.New("must not be empty")
	case strings.ContainsAny(repo, " \t\n@"):
		return fmt.Errorf("%q must not contain whitespace or a digest", repo)
	case strings.Contains(last, ":"):
		return fmt.Errorf("%q must not carry a tag: fleethub tags it with the PostgreSQL major version", repo)
	}
	return nil
}

func lookup(getenv func(string) string, name string) (string, bool) {
	if getenv == nil {
		getenv = os.Getenv
	}
	v := getenv(name)
	return v, v != ""
}
