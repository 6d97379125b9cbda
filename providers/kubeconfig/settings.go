package kubeconfig

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/fleethub/fleethub/pkg/membersecret"
)

// ClientSettings are per-member client knobs, from hub defaults and Secret annotations.
type ClientSettings struct {
	QPS            float32
	Burst          int
	RequestTimeout time.Duration
}

// Bounds of the per-member client annotations. A Secret may tune its member
// within them; beyond them one member could flood its apiserver from the hub
// (and spend the hub's CPU) or hold a worker for as long as it likes.
const (
	MaxQPS            = 1000
	MaxBurst          = 2000
	MinRequestTimeout = time.Second
	MaxRequestTimeout = 5 * time.Minute
)

// Settings reads the per-member client annotations over the hub's defaults.
func Settings(annotations map[string]string, defaults ClientSettings) (ClientSettings, error) {
	s := defaults
	var errs []error
	if v, ok := annotations[membersecret.AnnotationQPS]; ok {
		f, err := strconv.ParseFloat(v, 32)
		if err != nil || f <= 0 || f > MaxQPS {
			errs = append(errs, fmt.Errorf("%s=%q: want a number above 0 and at most %d", membersecret.AnnotationQPS, v, MaxQPS))
		} else {
			s.QPS = float32(f)
		}
	}
	if v, ok := annotations[membersecret.AnnotationBurst]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxBurst {
			errs = append(errs, fmt.Errorf("%s=%q: want an integer from 1 to %d", membersecret.AnnotationBurst, v, MaxBurst))
		} else {
			s.Burst = n
		}
	}
	if v, ok := annotations[membersecret.AnnotationTimeout]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < MinRequestTimeout || d > MaxRequestTimeout {
			errs = append(errs, fmt.Errorf("%s=%q: want a duration from %s to %s, such as 15s", membersecret.AnnotationTimeout, v, MinRequestTimeout, MaxRequestTimeout))
		} else {
			s.RequestTimeout = d
		}
	}
	if err := errors.Join(errs...); err != nil {
		return defaults, reject(ReasonInvalidAnnotation, "%v", err)
	}
	return s, nil
}
