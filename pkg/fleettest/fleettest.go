// Package fleettest is the old import path of the test fleet harness, which
// now lives with the composition root in cmd/manager/app/fleettest (it builds
// the hub the binary ships). It only forwards there, for the provider's tests
// that still import this path; new code imports the harness directly.
//
// It is the one exception the layout test (layout_test.go) allows to pkg/'s
// "imports nothing from cmd/ or providers/" rule; delete both once nothing
// imports this path.
package fleettest

import "github.com/fleethub/fleethub/cmd/manager/app/fleettest"

// HubNamespace is where the test hub keeps member Secrets.
const HubNamespace = fleettest.HubNamespace

type (
	// Cluster is one running control plane.
	Cluster = fleettest.Cluster
	// Fleet is a hub and its members.
	Fleet = fleettest.Fleet
	// Manager is a running hub manager.
	Manager = fleettest.Manager
	// Options shape a test fleet.
	Options = fleettest.Options
	// Proxy is a TCP proxy in front of a member's apiserver.
	Proxy = fleettest.Proxy
	// RequestCounter counts the requests the hub sends to each member.
	RequestCounter = fleettest.RequestCounter
	// Suite is the fleet and manager shared by one package's integration tests.
	Suite = fleettest.Suite
)

// The harness's functions, unchanged.
var (
	BinaryAssets      = fleettest.BinaryAssets
	BlackHole         = fleettest.BlackHole
	Eventually        = fleettest.Eventually
	FreeAddr          = fleettest.FreeAddr
	Must              = fleettest.Must
	SetupLogging      = fleettest.SetupLogging
	TestConfig        = fleettest.TestConfig
	Start             = fleettest.Start
	StartWith         = fleettest.StartWith
	NewProxy          = fleettest.NewProxy
	NewRequestCounter = fleettest.NewRequestCounter
)
