// Package logging builds the manager's structured logger and the per-reconcile
// loggers that put cluster, namespace and name on every line.
package logging

import (
	"fmt"
	"strings"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"
)

// New returns a zap-backed logger. format is "json" or "text"; level is
// "debug", "info", "error" or a positive verbosity number.
func New(format, level string) (logr.Logger, error) {
	opts := zap.Options{}
	switch strings.ToLower(format) {
	case "json":
		opts.Development = false
	case "text", "console":
		opts.Development = true
	default:
		return logr.Logger{}, fmt.Errorf("unknown log format %q (want json or text)", format)
	}
	lvl, err := parseLevel(level)
	if err != nil {
		return logr.Logger{}, err
	}
	opts.Level = lvl
	return zap.New(zap.UseFlagOptions(&opts)), nil
}

func parseLevel(level string) (zapcore.Level, error) {
	switch strings.ToLower(level) {
	case "debug":
		return zapcore.DebugLevel, nil
	case "info", "":
		return zapcore.InfoLevel, nil
	case "warn", "warning":
		return zapcore.WarnLevel, nil
	case "error":
		return zapcore.ErrorLevel, nil
	}
	var v int
	if _, err := fmt.Sscanf(level, "%d", &v); err == nil && v >= 0 {
		return zapcore.Level(-v), nil
	}
	return 0, fmt.Errorf("unknown log level %q (want debug, info, warn, error or a verbosity number)", level)
}

// ReconcileLogger returns a log constructor for a multicluster controller whose
// lines carry the controller, kind, cluster, namespace and name of the request.
func ReconcileLogger(base logr.Logger, controller, kind string) func(*mcreconcile.Request) logr.Logger {
	l := base.WithValues("controller", controller, "kind", kind)
	return func(req *mcreconcile.Request) logr.Logger {
		if req == nil {
			return l
		}
		return l.WithValues("cluster", req.ClusterName.String(), "namespace", req.Namespace, "name", req.Name)
	}
}
