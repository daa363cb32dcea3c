package sim_test

import (
	"strings"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/sim"
)

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts sim.Options
		want string // substring of the error; empty means valid
	}{
		{"defaults", sim.Options{Candidates: 3}, ""},
		{"zero candidates", sim.Options{}, "Candidates (0) must be at least 1"},
		{"negative candidates", sim.Options{Candidates: -2}, "Candidates (-2)"},
		{"negative lease", sim.Options{Candidates: 1, Timing: sim.Timing{LeaseDuration: -time.Second}}, "Timing.LeaseDuration (-1s) must not be negative"},
		{"negative retry", sim.Options{Candidates: 1, Timing: sim.Timing{RetryPeriod: -time.Second}}, "Timing.RetryPeriod (-1s) must not be negative"},
		{"renew not below lease", sim.Options{Candidates: 1, Timing: sim.Timing{LeaseDuration: 10 * time.Second, RenewDeadline: 12 * time.Second}}, "RenewDeadline (12s) must be less than LeaseDuration (10s)"},
		{"renew equal to lease", sim.Options{Candidates: 1, Timing: sim.Timing{LeaseDuration: 10 * time.Second, RenewDeadline: 10 * time.Second}}, "must be less than LeaseDuration"},
		{"renew not above jittered retry", sim.Options{Candidates: 1, Timing: sim.Timing{RenewDeadline: 2400 * time.Millisecond}}, "RenewDeadline (2.4s) must be greater than 1.2 x RetryPeriod (2.4s)"},
		{"fractional lease", sim.Options{Candidates: 1, Timing: sim.Timing{LeaseDuration: 15500 * time.Millisecond}}, "LeaseDuration (15.5s) must be a whole number of seconds"},
		{"sub-second lease", sim.Options{Candidates: 1, Timing: sim.Timing{LeaseDuration: 900 * time.Millisecond, RenewDeadline: 500 * time.Millisecond, RetryPeriod: 100 * time.Millisecond}}, "at least 1s"},
		{"short valid timing", sim.Options{Candidates: 1, Timing: sim.Timing{LeaseDuration: 2 * time.Second, RenewDeadline: time.Second, RetryPeriod: 200 * time.Millisecond}}, ""},
		{"negative latency", sim.Options{Candidates: 1, Latency: sim.Dist{Min: -time.Millisecond}}, "Latency"},
		{"inverted latency", sim.Options{Candidates: 1, Latency: sim.Dist{Min: 2 * time.Millisecond, Max: time.Millisecond}}, "Max (1ms) must not be less than Min (2ms)"},
		{"bad lease name", sim.Options{Candidates: 1, LeaseName: "Not_A_Name"}, "LeaseName"},
		{"unknown candidate", sim.Options{Candidates: 2, Faults: []sim.Fault{{Kind: sim.FaultCrash, Candidate: "c7"}}}, `Faults[0]: crash: unknown candidate "c7" (candidates are c0..c1)`},
		{"crash needs candidate", sim.Options{Candidates: 2, Faults: []sim.Fault{{Kind: sim.FaultCrash}}}, "Candidate must name a candidate"},
		{"negative fault duration", sim.Options{Candidates: 2, Faults: []sim.Fault{{Kind: sim.FaultPartition, Candidate: "c0", For: -time.Second}}}, "For (-1s) must not be negative"},
		{"negative fault time", sim.Options{Candidates: 2, Faults: []sim.Fault{{Kind: sim.FaultOutage, At: -time.Second}}}, "At (-1s) must not be negative"},
		{"negative slow response", sim.Options{Candidates: 2, Faults: []sim.Fault{{Kind: sim.FaultSlowResponse, Delay: -time.Second}}}, "Delay (-1s) must be positive"},
		{"bad error code", sim.Options{Candidates: 2, Faults: []sim.Fault{{Kind: sim.FaultErrors, Code: 404, Rate: 1}}}, "Code (404) must be 500, 503 or 429"},
		{"bad error rate", sim.Options{Candidates: 2, Faults: []sim.Fault{{Kind: sim.FaultErrors, Code: 500, Rate: 1.5}}}, "Rate (1.5) must be between 0 and 1"},
		{"unknown verb", sim.Options{Candidates: 2, Faults: []sim.Fault{{Kind: sim.FaultLatency, Verb: "watch"}}}, `unknown Verb "watch"`},
		{"unknown kind", sim.Options{Candidates: 2, Faults: []sim.Fault{{Kind: "meteor"}}}, `unknown Kind "meteor"`},
		{"overwrite needs holder", sim.Options{Candidates: 2, Faults: []sim.Fault{{Kind: sim.FaultOverwriteLease}}}, "Identity (the foreign holder) must not be empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "sim: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}
