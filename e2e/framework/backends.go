package framework

import (
	"fmt"
	"path/filepath"

	"github.com/fleethub/fleethub/e2e/backend"
	"github.com/fleethub/fleethub/e2e/backend/kind"
	"github.com/fleethub/fleethub/e2e/backend/kwok"
)

// KindOptions configure the kind backend.
type KindOptions struct {
	// NodeImage is the node image; empty uses kind.DefaultNodeImage.
	NodeImage string `json:"nodeImage,omitempty"`
}

// Backends are the backend names New accepts.
var Backends = []string{"kwok", "kind"}

func newBackend(o Options, bins Binaries) (backend.Backend, error) {
	switch o.Backend {
	case "kwok":
		return kwok.New(kwok.Options{
			WorkDir:    filepath.Join(o.StateDir, "kwok"),
			K8sBinDir:  bins.K8sBinDir,
			KwokBinDir: bins.KwokBinDir,
			Progress:   o.Progress,
		})
	case "kind":
		return kind.New(kind.Options{
			NodeImage:     o.Kind.NodeImage,
			KubeconfigDir: filepath.Join(o.StateDir, "kind"),
			Progress:      o.Progress,
		})
	default:
		return nil, fmt.Errorf("unknown backend %q (want one of %v)", o.Backend, Backends)
	}
}

// Images are the application images scenarios and samples run. On kwok any
// name works (no container runs); on kind they must exist locally, built by
// hack/app-images.sh from Debian packages (so PostgreSQL is bookworm's 15),
// and are loaded into every member.
type Images struct {
	// Web serves HTTP on port 80 (an nginx).
	Web string `json:"web"`
	// PostgresRepository is SimpleDB's image repository (the manager's
	// --postgres-image-repository); tags are PostgreSQL major versions.
	PostgresRepository string `json:"postgresRepository"`
	// PostgresTags are the tags of PostgresRepository to load.
	PostgresTags []string `json:"postgresTags,omitempty"`
}

// DefaultImages are the images for a backend.
func DefaultImages(backendName string) Images {
	if backendName == "kind" {
		return Images{Web: "fleethub.local/nginx:e2e", PostgresRepository: "fleethub.local/postgres", PostgresTags: []string{"15"}}
	}
	return Images{Web: "nginx:1.27", PostgresRepository: "postgres"}
}
