package kind

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// ErrNoDocker is what CheckDocker's error wraps when this machine has no
// usable Docker engine.
var ErrNoDocker = errors.New("the kind backend needs a running Docker engine")

// CheckDocker fails, saying what is missing, unless the docker command is
// on PATH and its engine answers. The kind suite calls it before building
// anything, so a machine without Docker fails at once and never skips.
func CheckDocker(ctx context.Context) error {
	path, err := exec.LookPath("docker")
	if err != nil {
		return fmt.Errorf("%w: no docker command on PATH (install Docker and start its engine, or use BACKEND=kwok)", ErrNoDocker)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		return fmt.Errorf("%w: %s version: the engine does not answer: %w: %s", ErrNoDocker, path, err, strings.TrimSpace(string(out)))
	}
	return nil
}
