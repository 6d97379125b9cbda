package domainmanager

import (
	"testing"
	"time"

	"github.com/fleethub/fleethub/pkg/dns"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func TestIndexWaiters(t *testing.T) {
	x := newIndex()
	www := dns.ClaimKey{Cluster: "alpha", Namespace: "ns", Name: "www"}
	acme := dns.ClaimKey{Cluster: "beta", Namespace: "ns", Name: "acme"}
	x.put(www, "WWW.example.com")
	x.put(acme, "_acme-challenge.www.example.com")
	if w := x.waiters("www.example.com"); len(w) != 2 {
		t.Fatalf("waiters of the base name = %v (the underscore name waits on it too)", w)
	}
	if w := x.waitersOfObject(claimObjectName("www.example.com", "A")); len(w) != 2 {
		t.Fatalf("waiters of the claim object = %v", w)
	}
	x.put(www, "api.example.com")
	if w := x.waiters("www.example.com"); len(w) != 1 || w[0] != acme {
		t.Fatalf("after a rename = %v", w)
	}
	x.delete(acme)
	if len(x.keys("")) != 1 || len(x.keys("beta")) != 0 || len(x.waiters("www.example.com")) != 0 {
		t.Fatalf("after delete: %v", x.keys(""))
	}
}

func TestIndexForgetsAMemberThatLeft(t *testing.T) {
	x := newIndex()
	left := dns.ClaimKey{Cluster: "alpha", Namespace: "ns", Name: "www"}
	stays := dns.ClaimKey{Cluster: "beta", Namespace: "ns", Name: "www"}
	x.put(left, "www.example.com")
	x.put(stays, "www.example.com")
	x.forgetMember("alpha")
	if w := x.waiters("www.example.com"); len(w) != 1 || w[0] != stays {
		t.Fatalf("waiters after alpha left = %v, want only beta's", w)
	}
	if k := x.keys("alpha"); len(k) != 0 {
		t.Fatalf("alpha's keys remain: %v", k)
	}
}
