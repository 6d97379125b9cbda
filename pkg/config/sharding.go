package config

import (
	"flag"
	"fmt"
	"os"
	"time"
)

// ShardingConfig spreads the members over several hub replicas (issue 14).
type ShardingConfig struct {
	// Enabled runs every replica active: members are divided among the live
	// replicas by multicluster-runtime's sharded coordinator, and leader
	// election is not used.
	Enabled bool
	// ReplicaID names this replica among its peers; it must be unique and
	// stable for the life of the process (the pod name).
	ReplicaID string
	// LeaseDuration is how long a replica's hold on one member (its fence
	// Lease) outlives the replica's last renewal.
	LeaseDuration time.Duration
}

// defaultReplicaID is the pod name (POD_NAME from the downward API), else the
// host name.
func defaultReplicaID(getenv func(string) string) string {
	if n := getenv("POD_NAME"); n != "" {
		return n
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "fleethub"
}

func registerShardingFlags(fs *flag.FlagSet, c *ShardingConfig, getenv func(string) string) {
	fs.BoolVar(&c.Enabled, "sharding", false, "Run every replica active and divide the members among them (multicluster-runtime's sharded coordinator, peer and fence Leases in the hub namespace); replaces --leader-elect.")
	fs.StringVar(&c.ReplicaID, "replica-id", defaultReplicaID(getenv), "This replica's name among its peers, in metrics (label replica) and on member Secrets; unique per replica.")
	fs.DurationVar(&c.LeaseDuration, "shard-lease-duration", 20*time.Second, "With --sharding: how long a replica's hold on a member outlives its last renewal (renewed every third of it).")
}

func (c ShardingConfig) validate() []error {
	var errs []error
	if c.ReplicaID == "" {
		errs = append(errs, fmt.Errorf("replica-id must not be empty"))
	}
	if c.LeaseDuration < 3*time.Second {
		errs = append(errs, fmt.Errorf("shard-lease-duration must be at least 3s, got %s", c.LeaseDuration))
	}
	return errs
}
