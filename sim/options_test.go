package sim_test

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/validation"

	"github.com/leaderlab/leaderlab/sim"
)

func TestOptionsValidate(t *testing.T) {
	fault := func(f sim.Fault) sim.Options { return sim.Options{Candidates: 2, Faults: []sim.Fault{f}} }
	lease := "sim: Timing.LeaseDuration (%s) must be a whole number of seconds, at least 1s: the lease stores whole seconds and client-go truncates"
	for _, tc := range []struct {
		name string
		opts sim.Options
		want string // the whole error; empty means valid
	}{
		{"defaults", sim.Options{Candidates: 3}, ""},
		{"short valid timing", sim.Options{Candidates: 1, Timing: sim.Timing{LeaseDuration: 2 * time.Second, RenewDeadline: time.Second, RetryPeriod: 200 * time.Millisecond}}, ""},
		{"a fault aimed at the leader", fault(sim.Fault{Kind: sim.FaultPartition, Candidate: sim.Leader, AfterWrites: 1}), ""},
		{"zero candidates", sim.Options{}, "sim: Candidates (0) must be at least 1"},
		{"negative candidates", sim.Options{Candidates: -2}, "sim: Candidates (-2) must be at least 1"},
		{"negative lease", sim.Options{Candidates: 1, Timing: sim.Timing{LeaseDuration: -time.Second}}, "sim: Timing.LeaseDuration (-1s) must not be negative"},
		{"negative retry", sim.Options{Candidates: 1, Timing: sim.Timing{RetryPeriod: -time.Second}}, "sim: Timing.RetryPeriod (-1s) must not be negative"},
		{"renew not below lease", sim.Options{Candidates: 1, Timing: sim.Timing{LeaseDuration: 10 * time.Second, RenewDeadline: 12 * time.Second}}, "sim: Timing.RenewDeadline (12s) must be less than LeaseDuration (10s)"},
		{"renew equal to lease", sim.Options{Candidates: 1, Timing: sim.Timing{LeaseDuration: 10 * time.Second, RenewDeadline: 10 * time.Second}}, "sim: Timing.RenewDeadline (10s) must be less than LeaseDuration (10s)"},
		{"renew not above jittered retry", sim.Options{Candidates: 1, Timing: sim.Timing{RenewDeadline: 2400 * time.Millisecond}}, "sim: Timing.RenewDeadline (2.4s) must be greater than 1.2 x RetryPeriod (2.4s)"},
		{"fractional lease", sim.Options{Candidates: 1, Timing: sim.Timing{LeaseDuration: 15500 * time.Millisecond}}, strings.Replace(lease, "%s", "15.5s", 1)},
		{"sub-second lease", sim.Options{Candidates: 1, Timing: sim.Timing{LeaseDuration: 900 * time.Millisecond, RenewDeadline: 500 * time.Millisecond, RetryPeriod: 100 * time.Millisecond}}, strings.Replace(lease, "%s", "900ms", 1)},
		{"negative latency", sim.Options{Candidates: 1, Latency: sim.Dist{Min: -time.Millisecond}}, "sim: Latency (-1ms..0s) must not be negative"},
		{"inverted latency", sim.Options{Candidates: 1, Latency: sim.Dist{Min: 2 * time.Millisecond, Max: time.Millisecond}}, "sim: Latency: Max (1ms) must not be less than Min (2ms)"},
		{"bad lease name", sim.Options{Candidates: 1, LeaseName: "Not_A_Name"},
			`sim: LeaseName "Not_A_Name" is not a valid object name: ` + strings.Join(validation.NameIsDNSSubdomain("Not_A_Name", false), "; ")},
		{"unknown candidate", fault(sim.Fault{Kind: sim.FaultCrash, Candidate: "c7"}), `sim: Faults[0]: crash: unknown candidate "c7" (candidates are c0..c1)`},
		{"crash needs candidate", fault(sim.Fault{Kind: sim.FaultCrash}), "sim: Faults[0]: crash: Candidate must name a candidate"},
		{"start needs a named candidate", fault(sim.Fault{Kind: sim.FaultStart, Candidate: sim.Leader}), "sim: Faults[0]: start: Candidate must name a candidate (not Leader: a leader is running)"},
		{"negative fault duration", fault(sim.Fault{Kind: sim.FaultPartition, Candidate: "c0", For: -time.Second}), "sim: Faults[0]: partition: For (-1s) must not be negative"},
		{"negative fault time", fault(sim.Fault{Kind: sim.FaultOutage, At: -time.Second}), "sim: Faults[0]: outage: At (-1s) must not be negative"},
		{"negative trigger", fault(sim.Fault{Kind: sim.FaultCrash, Candidate: "c0", AfterWrites: -1}), "sim: Faults[0]: crash: AfterWrites (-1) must not be negative"},
		{"negative slow response", fault(sim.Fault{Kind: sim.FaultSlowResponse, Delay: -time.Second}), "sim: Faults[0]: slow-response: Delay (-1s) must be positive"},
		{"bad error code", fault(sim.Fault{Kind: sim.FaultErrors, Code: 404, Rate: 1}), "sim: Faults[0]: errors: Code (404) must be 500, 503 or 429"},
		{"bad error rate", fault(sim.Fault{Kind: sim.FaultErrors, Code: 500, Rate: 1.5}), "sim: Faults[0]: errors: Rate (1.5) must be between 0 and 1"},
		{"negative fault latency, one prefix", fault(sim.Fault{Kind: sim.FaultLatency, Request: sim.Fixed(-time.Second)}), "sim: Faults[0]: latency: Request (-1s) must not be negative"},
		{"unknown verb", fault(sim.Fault{Kind: sim.FaultLatency, Verb: "proxy"}), `sim: Faults[0]: latency: unknown Verb "proxy"`},
		{"unknown kind", fault(sim.Fault{Kind: "meteor"}), `sim: Faults[0]: unknown Kind "meteor"`},
		{"overwrite needs holder", fault(sim.Fault{Kind: sim.FaultOverwriteLease}), "sim: Faults[0]: overwrite-lease: Identity (the foreign holder) must not be empty"},
		{"a field the kind does not use", fault(sim.Fault{Kind: sim.FaultCrash, Candidate: "c0", Delay: time.Second}), "sim: Faults[0]: crash: Delay must be zero: the crash fault does not use it"},
		{"a trigger the kind does not use", fault(sim.Fault{Kind: sim.FaultErrors, Code: 500, Rate: 1, AfterWrites: 1}), "sim: Faults[0]: errors: AfterWrites must be zero: the errors fault does not use it"},
		{"a duration an instant fault does not use", fault(sim.Fault{Kind: sim.FaultDeleteLease, For: time.Second}), "sim: Faults[0]: delete-lease: For must be zero: the delete-lease fault does not use it"},
		{"an overload without seats", fault(sim.Fault{Kind: sim.FaultOverload, Service: time.Second}), "sim: Faults[0]: overload: InFlight (0) must be at least 1"},
		{"an overload without service time", fault(sim.Fault{Kind: sim.FaultOverload, InFlight: 2}), "sim: Faults[0]: overload: Service (0s) must be positive"},
		{"an overload with a negative queue", fault(sim.Fault{Kind: sim.FaultOverload, InFlight: 2, Service: time.Second, QueueWait: -time.Second}), "sim: Faults[0]: overload: QueueWait (-1s) must not be negative"},
		{"a watch delay for nobody", fault(sim.Fault{Kind: sim.FaultWatchDelay, Delay: time.Second}), "sim: Faults[0]: watch-delay: Candidate must name a candidate"},
		{"a watch delay of nothing", fault(sim.Fault{Kind: sim.FaultWatchDelay, Candidate: "c1"}), "sim: Faults[0]: watch-delay: Delay (0s) must be positive"},
		{"a watch delay by verb", fault(sim.Fault{Kind: sim.FaultWatchDelay, Candidate: "c1", Delay: time.Second, Verb: sim.VerbWatch}), "sim: Faults[0]: watch-delay: Verb must be zero: the watch-delay fault does not use it"},
		{"a fault after term ends and writes", fault(sim.Fault{Kind: sim.FaultCrash, Candidate: "c1", AfterWrites: 1, AfterTermEnds: 1}), "sim: Faults[0]: crash: AfterWrites and AfterTermEnds exclude each other: the fault waits for one of them"},
		{"a fault after minus one term end", fault(sim.Fault{Kind: sim.FaultAPIRestart, AfterTermEnds: -1}), "sim: Faults[0]: api-restart: AfterTermEnds (-1) must not be negative"},
		{"a stale replica for nobody", fault(sim.Fault{Kind: sim.FaultStaleReplica, Frozen: true}), "sim: Faults[0]: stale-replica: Candidate must name a candidate"},
		{"a stale replica neither lagging nor frozen", fault(sim.Fault{Kind: sim.FaultStaleReplica, Candidate: "c1"}), "sim: Faults[0]: stale-replica: set one of Delay (the cache's lag, 0s) and Frozen"},
		{"a stale replica lagging and frozen", fault(sim.Fault{Kind: sim.FaultStaleReplica, Candidate: "c1", Delay: time.Second, Frozen: true}), "sim: Faults[0]: stale-replica: set one of Delay (the cache's lag, 1s) and Frozen"},
		{"a stale replica lagging backwards", fault(sim.Fault{Kind: sim.FaultStaleReplica, Candidate: "c1", Delay: -time.Second}), "sim: Faults[0]: stale-replica: Delay (-1s) must be positive"},
		{"a frozen watch delay", fault(sim.Fault{Kind: sim.FaultWatchDelay, Candidate: "c1", Delay: time.Second, Frozen: true}), "sim: Faults[0]: watch-delay: Frozen must be zero: the watch-delay fault does not use it"},
		{"a restart aimed at a candidate", fault(sim.Fault{Kind: sim.FaultAPIRestart, Candidate: "c0"}), "sim: Faults[0]: api-restart: Candidate must be zero: the api-restart fault does not use it"},
		{"a resource on a fault that has no scope", fault(sim.Fault{Kind: sim.FaultCrash, Candidate: "c0", Resource: "leases"}), "sim: Faults[0]: crash: Resource must be zero: the crash fault does not use it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("Validate() = %q\nwant        %q", got, tc.want)
			}
		})
	}
}
