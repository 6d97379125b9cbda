// Package apply writes child objects with Server-Side Apply under fleethub's
// single field manager, and skips the write when nothing fleethub owns differs.
package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/api/v1alpha1"
)

// Result says what Apply did.
type Result string

const (
	Unchanged Result = "Unchanged"
	Created   Result = "Created"
	Updated   Result = "Updated"
)

// Owned is the subset of a live object that fleethub's field manager owns, as
// an apply configuration (from the client-go Extract<Kind> functions). It is nil
// when the object does not exist.
type Owned = runtime.ApplyConfiguration

// Apply server-side applies desired unless owned already equals it. Comparing
// against what we own (not the whole live object) means fields set by other
// controllers and defaults filled in by the apiserver never trigger a write,
// while a hand edit that took a field away from us does.
func Apply(ctx context.Context, c client.Client, desired runtime.ApplyConfiguration, owned Owned, exists bool) (Result, error) {
	if exists {
		same, err := Equal(desired, owned)
		if err != nil {
			return "", err
		}
		if same {
			return Unchanged, nil
		}
	}
	if err := c.Apply(ctx, desired, client.FieldOwner(v1alpha1.FieldManager), client.ForceOwnership); err != nil {
		return "", err
	}
	if exists {
		return Updated, nil
	}
	return Created, nil
}

// Equal reports whether two apply configurations describe the same fields and
// values. Both are compared in their JSON form, which is what the apiserver sees.
func Equal(a, b runtime.ApplyConfiguration) (bool, error) {
	if isNil(a) || isNil(b) {
		return isNil(a) == isNil(b), nil
	}
	ja, err := normalize(a)
	if err != nil {
		return false, err
	}
	jb, err := normalize(b)
	if err != nil {
		return false, err
	}
	return reflect.DeepEqual(ja, jb), nil
}

func normalize(ac runtime.ApplyConfiguration) (any, error) {
	raw, err := json.Marshal(ac)
	if err != nil {
		return nil, fmt.Errorf("encoding apply configuration: %w", err)
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decoding apply configuration: %w", err)
	}
	return prune(v), nil
}

// prune drops empty maps and lists, which SSA treats as absent.
func prune(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			p := prune(val)
			if isEmpty(p) {
				delete(t, k)
				continue
			}
			t[k] = p
		}
		return t
	case []any:
		for i := range t {
			t[i] = prune(t[i])
		}
		return t
	default:
		return v
	}
}

func isEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(t) == 0
	case []any:
		return len(t) == 0
	}
	return false
}

func isNil(ac runtime.ApplyConfiguration) bool {
	if ac == nil {
		return true
	}
	rv := reflect.ValueOf(ac)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// Ensure reads the child at key into live (from the member cache) and applies
// desired unless the fields fleethub owns already match. extract is the client-go
// Extract<Kind> function of the child's type. It reports whether the child
// existed before the call.
func Ensure[T client.Object, AC runtime.ApplyConfiguration](ctx context.Context, c client.Client, key client.ObjectKey, live T, desired AC, extract func(T, string) (AC, error)) (Result, bool, error) {
	exists := true
	if err := c.Get(ctx, key, live); err != nil {
		if !apierrors.IsNotFound(err) {
			return "", false, fmt.Errorf("reading %s: %w", key, err)
		}
		exists = false
	}
	var owned runtime.ApplyConfiguration
	if exists {
		o, err := extract(live, v1alpha1.FieldManager)
		if err != nil {
			return "", exists, fmt.Errorf("extracting the fields %s owns on %s: %w", v1alpha1.FieldManager, key, err)
		}
		owned = o
	}
	res, err := Apply(ctx, c, desired, owned, exists)
	if err != nil {
		return "", exists, fmt.Errorf("applying %s: %w", key, err)
	}
	return res, exists, nil
}
