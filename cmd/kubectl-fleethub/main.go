// Command kubectl-fleethub registers member clusters with a fleethub hub. On
// PATH it is also the kubectl plugin `kubectl fleethub`. It parses flags and
// loads kubeconfig contexts; the work is done by pkg/registration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/fleethub/fleethub/pkg/registration"
)

const usage = `kubectl fleethub registers member clusters with a fleethub hub.

Usage:
  kubectl fleethub register <name> --member-context CTX [--hub-context CTX] [--server URL]
                   [--hub-namespace NS] [--member-namespace NS] [--install-crds] [--token-duration 720h]
  kubectl fleethub unregister <name> --member-context CTX [--hub-context CTX] | --hub-only
  kubectl fleethub list [--hub-context CTX] [--hub-namespace NS] [-o table|wide|json]

register    gives the hub an identity in the member (namespace, ServiceAccount fleethub-hub,
            ClusterRole/Binding fleethub-member), issues it a token of bounded lifetime and
            stores a kubeconfig with that token as the member's Secret on the hub. Re-running
            it rotates the token; run it again before the token expires.
unregister  deletes the member's Secret on the hub and the hub's ServiceAccount, ClusterRole
            and ClusterRoleBinding in the member. Leaves the namespace, CRDs and workloads.
list        shows each member's state as the hub reports it.

Contexts come from --kubeconfig (default: $KUBECONFIG, then ~/.kube/config); --hub-context
defaults to the current context. Run "kubectl fleethub <command> -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

var (
	// errUsage marks a command line that cannot work (exit code 2).
	errUsage = errors.New("usage")
	// errReported is a bad flag the flag package has already reported.
	errReported = errors.New("bad flags")
)

// run executes one command and returns the exit code: 0 success, 1 failure,
// 2 bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ctrllog.SetLogger(logr.Discard())
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "register":
		err = register(ctx, args[1:], stdout, stderr)
	case "unregister":
		err = unregister(ctx, args[1:], stdout, stderr)
	case "list":
		err = list(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errReported):
		return 2
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "error: %v\n", err)
	return 1
}

// common are the flags every command has.
type common struct {
	kubeconfig   string
	hubContext   string
	hubNamespace string
}

func (c *common) bind(fs *flag.FlagSet) {
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "path to the kubeconfig holding the hub and member contexts (default: $KUBECONFIG, then ~/.kube/config)")
	fs.StringVar(&c.hubContext, "hub-context", "", "kubeconfig context of the hub cluster (default: the current context)")
	fs.StringVar(&c.hubNamespace, "hub-namespace", registration.DefaultNamespace, "hub namespace holding member Secrets")
}

func (c *common) hub() (*rest.Config, string, error) {
	cfg, name, err := registration.LoadConfig(c.kubeconfig, c.hubContext)
	if err != nil {
		return nil, "", fmt.Errorf("hub: %w", err)
	}
	return cfg, name, nil
}

func member(kubeconfig, context string) (*rest.Config, error) {
	cfg, _, err := registration.LoadConfig(kubeconfig, context)
	if err != nil {
		return nil, fmt.Errorf("member: %w", err)
	}
	return cfg, nil
}

func register(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	o := registration.RegisterOptions{Out: stdout}
	fs := newFlagSet("register <name>", stderr)
	c.bind(fs)
	fs.StringVar(&o.MemberContext, "member-context", "", "kubeconfig context of the member cluster, with rights to create cluster roles (required)")
	fs.StringVar(&o.Server, "server", "", "member API server URL the hub should use, when it reaches the member by another address than you (default: the member context's server)")
	fs.StringVar(&o.TLSServerName, "tls-server-name", "", "name the hub verifies the member's serving certificate against (for --server addresses not in the certificate)")
	fs.StringVar(&o.MemberNamespace, "member-namespace", registration.DefaultNamespace, "member namespace for the hub's ServiceAccount")
	fs.BoolVar(&o.InstallCRDs, "install-crds", false, "also apply fleethub's CRDs to the member")
	fs.DurationVar(&o.TokenDuration, "token-duration", registration.DefaultTokenDuration, "requested lifetime of the hub's token (at least 10m); register again before it ends")
	name, err := oneName(fs, args)
	if err != nil {
		return err
	}
	if o.MemberContext == "" {
		return fmt.Errorf("%w: --member-context is required", errUsage)
	}
	o.Name, o.HubNamespace = name, c.hubNamespace
	if o.Member, err = member(c.kubeconfig, o.MemberContext); err != nil {
		return err
	}
	if o.Hub, o.HubContext, err = c.hub(); err != nil {
		return err
	}
	_, err = registration.Register(ctx, o)
	return err
}

func unregister(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	o := registration.UnregisterOptions{Out: stdout}
	var hubOnly bool
	fs := newFlagSet("unregister <name>", stderr)
	c.bind(fs)
	fs.StringVar(&o.MemberContext, "member-context", "", "kubeconfig context of the member cluster, to remove the hub's ServiceAccount and RBAC there")
	fs.StringVar(&o.MemberNamespace, "member-namespace", registration.DefaultNamespace, "member namespace of the hub's ServiceAccount")
	fs.BoolVar(&hubOnly, "hub-only", false, "only delete the Secret on the hub (for a member that is gone or unreachable)")
	name, err := oneName(fs, args)
	if err != nil {
		return err
	}
	switch {
	case hubOnly && o.MemberContext != "":
		return fmt.Errorf("%w: --hub-only and --member-context exclude each other", errUsage)
	case !hubOnly && o.MemberContext == "":
		return fmt.Errorf("%w: --member-context is required (or --hub-only to leave the member untouched)", errUsage)
	}
	o.Name, o.HubNamespace = name, c.hubNamespace
	if !hubOnly {
		if o.Member, err = member(c.kubeconfig, o.MemberContext); err != nil {
			return err
		}
	}
	if o.Hub, o.HubContext, err = c.hub(); err != nil {
		return err
	}
	return registration.Unregister(ctx, o)
}

func list(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	var output string
	fs := newFlagSet("list", stderr)
	c.bind(fs)
	fs.StringVar(&output, "o", "table", "output format: table, wide or json")
	fs.StringVar(&output, "output", "table", "output format: table, wide or json")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: list takes no arguments, got %q", errUsage, strings.Join(pos, " "))
	}
	if output != "table" && output != "wide" && output != "json" {
		return fmt.Errorf("%w: unknown output format %q (table, wide or json)", errUsage, output)
	}
	hub, hubContext, err := c.hub()
	if err != nil {
		return err
	}
	members, err := registration.List(ctx, hub, hubContext, c.hubNamespace)
	if err != nil {
		return err
	}
	if output == "json" {
		return registration.WriteJSON(stdout, members)
	}
	return registration.WriteTable(stdout, members, output == "wide")
}

func newFlagSet(cmd string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: kubectl fleethub %s [flags]\n\nFlags:\n", cmd)
		fs.PrintDefaults()
	}
	return fs
}

// oneName parses flags placed anywhere and returns the single positional
// argument, the member name.
func oneName(fs *flag.FlagSet, args []string) (string, error) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", fmt.Errorf("%w: want exactly one member name, got %d arguments", errUsage, len(pos))
	}
	return pos[0], nil
}

// parseInterspersed lets flags come before or after positional arguments, as
// kubectl users expect ("register m1 --member-context x").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errReported
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
