package memberleft

import (
	"slices"
	"testing"
)

func TestLeftRunsEveryHookInOrder(t *testing.T) {
	var h Hooks
	var got []string
	h.Add(func(n string) { got = append(got, "a:"+n) })
	h.Add(func(n string) { got = append(got, "b:"+n) })
	h.Left("m1")
	h.Left("m2")
	if want := []string{"a:m1", "b:m1", "a:m2", "b:m2"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestNilHooksDoNothing(t *testing.T) {
	var h *Hooks
	h.Add(func(string) { t.Fatal("called") })
	h.Left("m1")
}
