package hub

import "sigs.k8s.io/controller-runtime/pkg/cache"

// RawCache is a member cache without the stub hiding, to look at what the
// hub actually holds.
func RawCache(c cache.Cache) cache.Cache {
	if s, ok := c.(stubHidingCache); ok {
		return s.Cache
	}
	return c
}
