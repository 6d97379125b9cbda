// Package apply decides whether a child needs a Server-Side Apply at all:
// Equal compares what fleethub's field manager owns with what it would apply.
// The writes themselves, behind the ownership rules, are pkg/reconciler's.
package apply

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/runtime"
)

// Result says what applying a child did.
type Result string

const (
	Unchanged Result = "Unchanged"
	Created   Result = "Created"
	Updated   Result = "Updated"
)

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
