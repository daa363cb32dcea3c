package scenarios_test

import (
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

func TestTimingLabel(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		timing sim.Timing
		want   string
	}{
		{sim.Timing{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}, "15s/10s/2s"},
		// Whole seconds stay in seconds past a minute, as the README's tables write them.
		{sim.Timing{LeaseDuration: 137 * time.Second, RenewDeadline: 107 * time.Second, RetryPeriod: 26 * time.Second}, "137s/107s/26s"},
		{sim.Timing{LeaseDuration: 270 * time.Second, RenewDeadline: 240 * time.Second, RetryPeriod: 60 * time.Second}, "270s/240s/60s"},
		{sim.Timing{LeaseDuration: time.Hour, RenewDeadline: 2 * time.Minute, RetryPeriod: time.Minute}, "3600s/120s/60s"},
		// Anything else as time.Duration writes it.
		{sim.Timing{LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 500 * ms}, "3s/2s/500ms"},
		{sim.Timing{LeaseDuration: 4 * time.Second, RenewDeadline: 1500 * ms, RetryPeriod: 250 * time.Microsecond}, "4s/1.5s/250µs"},
		{sim.Timing{LeaseDuration: 90500 * ms, RenewDeadline: 61001 * ms, RetryPeriod: 1}, "1m30.5s/1m1.001s/1ns"},
		// The zero Timing, before defaults are applied.
		{sim.Timing{}, "0s/0s/0s"},
	}
	for _, tt := range tests {
		if got := scenarios.TimingLabel(tt.timing); got != tt.want {
			t.Errorf("TimingLabel(%+v) = %q, want %q", tt.timing, got, tt.want)
		}
	}
}
