package realapi

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/scenarios"
)

// The long form of the fidelity comparison runs with -validate.trials > 0
// (hack/validate.sh, `make validate`); by default TestValidate runs the small
// form, so that every `go test` notices when sim drifts from client-go's real
// behaviour.
var (
	validateTrials  = flag.Int("validate.trials", 0, "real trials per plan for the long fidelity comparison (0: the small form)")
	validateSeeds   = flag.Int("validate.seeds", 0, "simulated seeds per plan (0: 100 x trials)")
	validateReport  = flag.String("validate.report", "", "directory to write validate.md, validate.svg and validate.json into")
	validateMachine = flag.String("validate.machine", "", "machine description for the report (default: cores, OS, architecture, Go)")
	validatePlans   = flag.String("validate.plans", "", "comma-free glob of plan names to run (default: all)")
)

// smallPlans are the plans of the small form: the fastest trials that still
// cover a crash (a lease duration of waiting), a handover (a follower's poll)
// and a margin-breaking case (a pending release overlaps a takeover).
func smallPlans() []Plan {
	var out []Plan
	for _, p := range ValidationPlans() {
		switch p.Name {
		case scenarios.LeaderCrash.ID, scenarios.GracefulHandover.ID, scenarios.PartitionedLeaderWithRelease.ID + "/overlap-timing":
			out = append(out, p)
		}
	}
	return out
}

// TestValidate compares the real server with sim. Small form: 3 real trials
// and 200 seeds of three plans, judged with CITolerance: it runs in every
// `go test -race`, on loaded CI machines, and must fail only for a real
// disagreement, not for the real side's scheduling jitter (see CITolerance).
// The seeds are as many as the long form's 10 trials get, so that the
// envelope is the simulator's range rather than a sample of it. Long form:
// every plan of ValidationPlans with -validate.trials trials, judged with
// DefaultTolerance.
func TestValidate(t *testing.T) {
	opts := CompareOptions{Plans: smallPlans(), Trials: 3, SimSeeds: 200, Parallel: 3, Tolerance: CITolerance, Progress: testWriter{t}}
	timeout := 3 * time.Minute
	if *validateTrials > 0 {
		opts = CompareOptions{Trials: *validateTrials, SimSeeds: *validateSeeds, Progress: os.Stderr}
		timeout = time.Duration(*validateTrials) * 2 * time.Minute
		if *validatePlans != "" {
			opts.Plans = nil
			for _, p := range ValidationPlans() {
				if ok, _ := filepath.Match(*validatePlans, p.Name); ok {
					opts.Plans = append(opts.Plans, p)
				}
			}
			if len(opts.Plans) == 0 {
				t.Fatalf("no plan matches -validate.plans %q", *validatePlans)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmp, err := Compare(ctx, t, config(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if *validateMachine != "" {
		cmp.Machine = *validateMachine
	}
	t.Log("\n" + cmp.Markdown())
	if *validateReport != "" {
		writeReport(t, *validateReport, cmp)
	}
	if err := cmp.Err(); err != nil {
		t.Error(err)
	}
	// The simulated side is the same work as the real one, in virtual time:
	// it must be much faster, or it is not simulating.
	if cmp.SimWall() >= cmp.RealWall() {
		t.Errorf("sim took %v for trials that took %v on the real server", cmp.SimWall(), cmp.RealWall())
	}
}

func writeReport(t *testing.T, dir string, cmp *Comparison) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	raw, err := json.MarshalIndent(cmp.Compact(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"validate.md":   []byte(cmp.Markdown()),
		"validate.svg":  cmp.SVG(),
		"validate.json": raw,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote validate.md, validate.svg and validate.json to %s", dir)
}

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
