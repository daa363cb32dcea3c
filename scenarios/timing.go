package scenarios

import (
	"fmt"
	"time"

	"github.com/leaderlab/leaderlab/sim"
)

// CommonTimings are timings users commonly run: LeaseDuration /
// RenewDeadline / RetryPeriod.
var CommonTimings = []sim.Timing{
	{LeaseDuration: 5 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: time.Second},        // fast failover, tests
	{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second},  // controller-runtime, kube-controller-manager
	{LeaseDuration: 30 * time.Second, RenewDeadline: 20 * time.Second, RetryPeriod: 5 * time.Second},  // doubled defaults
	{LeaseDuration: 60 * time.Second, RenewDeadline: 40 * time.Second, RetryPeriod: 10 * time.Second}, // fewer API writes
	{LeaseDuration: 137 * time.Second, RenewDeadline: 107 * time.Second, RetryPeriod: 26 * time.Second},
	{LeaseDuration: 270 * time.Second, RenewDeadline: 240 * time.Second, RetryPeriod: 60 * time.Second}, // single-node clusters
}

// TimingLabel is "LD/RD/RP", as in "15s/10s/2s" or "137s/107s/26s". Each
// duration is written as labelDuration writes it.
func TimingLabel(t sim.Timing) string {
	return labelDuration(t.LeaseDuration) + "/" + labelDuration(t.RenewDeadline) + "/" + labelDuration(t.RetryPeriod)
}

// labelDuration writes a whole number of seconds as seconds ("137s", not
// time.Duration's "2m17s"), because elector timings are set and compared in
// seconds and a table column of "2m17s/1m47s/26s" hides that; any other
// duration is written as time.Duration writes it ("500ms", "1.5s").
func labelDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
	return d.String()
}
