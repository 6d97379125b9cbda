// Command manager is the fleethub hub manager: it discovers member clusters
// from kubeconfig Secrets on the hub and reconciles fleethub's kinds in each.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/fleethub/fleethub/pkg/config"
	"github.com/fleethub/fleethub/pkg/hub"
	"github.com/fleethub/fleethub/pkg/logging"
	"github.com/fleethub/fleethub/pkg/tracing"
)

// version is stamped at build time (-ldflags -X main.version=...).
var version = "dev"

func main() {
	if err := run(); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // usage was printed
		}
		fmt.Fprintln(os.Stderr, "fleethub:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := config.Parse(os.Args[1:], os.Getenv, os.Stderr)
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

	mgr, _, err := hub.New(restCfg, cfg, hub.Options{})
	if err != nil {
		return err
	}
	log.Info("Starting fleethub", "version", version, "hubNamespace", cfg.HubNamespace, "leaderElection", cfg.LeaderElect,
		"resyncInterval", cfg.ResyncInterval.String(), "tracing", tracing.Enabled(os.Getenv))
	return mgr.Start(ctx)
}
