package kubeconfig

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	const threshold = 3
	tests := []struct {
		name      string
		o         observation
		want      action
		threshold int // default 3
	}{
		{"new and healthy: engage", observation{healthy: true}, actEngage, 0},
		{"new and failing: just report", observation{failures: 5}, actNone, 0},
		{"engaged and healthy: nothing", observation{healthy: true, engaged: true}, actNone, 0},
		{"one failed probe is tolerated", observation{engaged: true, failures: 1}, actTolerate, 0},
		{"failures below the threshold are tolerated", observation{engaged: true, failures: threshold - 1}, actTolerate, 0},
		{"at the threshold: hidden, cache kept", observation{engaged: true, failures: threshold}, actHide, 0},
		{"threshold 1 hides at once", observation{engaged: true, failures: 1}, actHide, 1},
		{"hidden and still failing: nothing", observation{engaged: true, hidden: true, failures: 9, down: time.Minute}, actNone, 0},
		{"hidden too long: dropped", observation{engaged: true, hidden: true, failures: 99, down: keepEngagedFor + time.Second}, actDrop, 0},
		{"hidden and back: shown again", observation{healthy: true, engaged: true, hidden: true, down: time.Minute}, actShow, 0},
		{"back with other kinds: rebuilt", observation{healthy: true, engaged: true, hidden: true, rebuild: true}, actEngage, 0},
		{"rebuilt cluster: re-engaged", observation{healthy: true, engaged: true, rebuild: true}, actEngage, 0},
		{"dropped and back: engaged afresh", observation{healthy: true, failures: 0, down: time.Hour}, actEngage, 0},
		{"duplicate: dropped", observation{rejected: true, engaged: true}, actDrop, 0},
		{"duplicate, never engaged: nothing", observation{rejected: true}, actNone, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			th := threshold
			if tc.threshold != 0 {
				th = tc.threshold
			}
			if got := decide(tc.o, th); got != tc.want {
				t.Errorf("decide(%+v) = %d, want %d", tc.o, got, tc.want)
			}
		})
	}
}
