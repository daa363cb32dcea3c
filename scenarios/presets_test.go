package scenarios_test

import (
	"testing"

	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

// Every preset is something the simulator can run as the controller does:
// a valid timing, and a client timeout that is either none or the one
// leaderelection.NewResourceLock derives from RenewDeadline. A controller
// with any other timeout cannot be a preset.
func TestPresetsCarryWhatTheSimulatorCanExpress(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range scenarios.Presets {
		if seen[p.Name] || p.Name == "" || p.Name == "common" {
			t.Errorf("preset %q: names must be unique, non-empty and not common (--timing's name for scenarios.CommonTimings)", p.Name)
		}
		seen[p.Name] = true
		if err := (sim.Options{Candidates: 1, Timing: p.Timing}).Validate(); err != nil {
			t.Errorf("preset %s: %v", p.Name, err)
		}
		withTimeout := scenarios.BoundsFor(sim.Options{Timing: p.Timing}).ClientTimeout
		if p.ClientTimeout != 0 && p.ClientTimeout != withTimeout {
			t.Errorf("preset %s: client timeout %v, but the simulator's is max(RD/2, 1s) = %v or none", p.Name, p.ClientTimeout, withTimeout)
		}
		if p.Controller == "" || p.Source == "" || p.Version == "" {
			t.Errorf("preset %s: a preset names its controller, its source and the version read", p.Name)
		}
		cfg := p.Config(scenarios.Config{Candidates: 5})
		want := scenarios.Config{Candidates: 5, Timing: p.Timing, ReleaseOnCancel: p.ReleaseOnCancel, NoClientTimeout: p.ClientTimeout == 0}
		if cfg.Candidates != want.Candidates || cfg.Timing != want.Timing || cfg.ReleaseOnCancel != want.ReleaseOnCancel || cfg.NoClientTimeout != want.NoClientTimeout {
			t.Errorf("preset %s: Config = %+v, want %+v", p.Name, cfg, want)
		}
		// What the run's options carry is what the preset says.
		o := scenarios.LeaderCrash.Params(cfg, 1).Options
		if o.ReleaseOnCancel != p.ReleaseOnCancel || o.NoClientTimeout != (p.ClientTimeout == 0) || o.Timing != p.Timing {
			t.Errorf("preset %s: the run's options %+v do not carry the preset", p.Name, o)
		}
		if got := p.Bounds(sim.DefaultLatency).ClientTimeout; got != p.ClientTimeout {
			t.Errorf("preset %s: Bounds().ClientTimeout = %v, want %v", p.Name, got, p.ClientTimeout)
		}
	}
	if _, ok := scenarios.LookupPreset("flux"); !ok {
		t.Error("no flux preset")
	}
	if _, ok := scenarios.LookupPreset("common"); ok {
		t.Error("LookupPreset found common")
	}
}
