// Package app is the composition root of the fleethub hub manager: it parses
// the flags and environment (pkg/config), and wires the multicluster manager
// on the hub, the kubeconfig cluster provider that engages members, the DNS
// provider and one controller per kind. cmd/manager's main only calls Run;
// the integration tests build the hub through New (see app/fleettest), so
// they run exactly what ships.
package app

import (
	"context"
	"fmt"
	"io"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/fleethub/fleethub/pkg/config"
	"github.com/fleethub/fleethub/pkg/logging"
	"github.com/fleethub/fleethub/pkg/tracing"
)

// Run parses args and the environment (getenv), then runs the hub manager
// until a termination signal. Usage and flag errors go to stderr; a request
// for help returns flag.ErrHelp.
func Run(args []string, getenv func(string) string, stderr io.Writer, version string) error {
	cfg, err := config.Parse(args, getenv, stderr)
	if err != nil {
		return err
	}
	log, err := logging.New(cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	ctrl.SetLogger(log)

	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = cfg.Kubeconfig
	restCfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return fmt.Errorf("loading the hub kubeconfig: %w", err)
	}
	restCfg.UserAgent = "fleethub-manager"

	ctx := ctrl.SetupSignalHandler()
	stopTracing, err := tracing.Setup(ctx, version)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = stopTracing(sctx)
	}()

	mgr, _, err := New(restCfg, cfg, Options{})
	if err != nil {
		return err
	}
	log.Info("Starting fleethub", "version", version, "hubNamespace", cfg.HubNamespace, "leaderElection", cfg.LeaderElect,
		"resyncInterval", cfg.ResyncInterval.String(), "tracing", tracing.Enabled(getenv))
	return mgr.Start(ctx)
}
