package benchmark

import (
	"encoding/json"
	"fmt"

	"github.com/leaderlab/leaderlab/internal/stats"
	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

// resultJSON is a Result as JSON: the scenario by its ID, the summaries for
// readers, and the runs, from which UnmarshalJSON derives the rest.
// Durations are nanoseconds, as in every JSON of the module.
type resultJSON struct {
	Scenario   string           `json:"scenario"`
	Label      string           `json:"label"`
	Timing     sim.Timing       `json:"timing"`
	Candidates int              `json:"candidates"`
	Window     scenarios.Window `json:"window"`
	Failovers  Summary          `json:"failovers"`
	Leaderless Summary          `json:"leaderless"`
	Outside    int              `json:"outside"`
	Overlaps   int              `json:"overlaps"`
	Example    int64            `json:"exampleSeed,omitempty"`
	Runs       []SeedRun        `json:"runs"`
}

// MarshalJSON writes r without its Example report (the seed of the
// representative run instead, whether it ran again or not) and without
// Wall, so that the JSON of the same seeds is the same wherever they ran.
func (r Result) MarshalJSON() ([]byte, error) {
	j := resultJSON{
		Scenario: r.Scenario.ID, Label: scenarios.TimingLabel(r.Timing), Timing: r.Timing, Candidates: r.Candidates,
		Window: r.Window, Failovers: stats.Summarize(r.Failovers), Leaderless: stats.Summarize(r.Leaderless),
		Outside: r.Outside, Overlaps: r.Overlaps, Runs: r.Runs, Example: r.representative(),
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes: the scenario must be in the
// catalog; the failovers, leaderless times and counts are derived from the
// runs again (the Example is not restored: Spec.Merge runs it again).
func (r *Result) UnmarshalJSON(data []byte) error {
	var j resultJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	s, ok := scenarios.Lookup(j.Scenario)
	if !ok {
		return fmt.Errorf("benchmark: unknown scenario %q", j.Scenario)
	}
	*r = Result{Scenario: s, Timing: j.Timing, Candidates: j.Candidates, Window: j.Window}
	for _, run := range j.Runs {
		r.add(run)
	}
	return nil
}
