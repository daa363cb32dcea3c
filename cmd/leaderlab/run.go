package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/spf13/cobra"

	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

func newRun() *cobra.Command {
	var (
		timing, latency, svg string
		seed                 int64
		candidates           int
		asJSON               bool
		over                 overrideFlags
	)
	cmd := &cobra.Command{
		Use:   "run SCENARIO",
		Short: "Run one scenario once: its report, its checks, the command that replays it",
		Long: "run runs one scenario of the catalog with one seed and prints the simulator's report (seed,\n" +
			"options, terms, failovers, overlaps, trace), then checks the report against the scenario's\n" +
			"expectations from client-go's arithmetic. Exit status 1 when an invariant or an expectation\n" +
			"fails. The same seed and flags replay the same run, byte for byte.\n\n" +
			"--timing takes a triple or a preset; a preset also sets ReleaseOnCancel and the client timeout\n" +
			"as the controller ships them, unless --release-on-cancel or --no-client-timeout is given. The\n" +
			"replay command spells them out as a triple and flags.\n\n" +
			"Scenarios: " + scenarioIDs(false) + "\n\n" + presetHelp(),
		Example: "  leaderlab run partition-release --seed 5\n  leaderlab run partition-release --timing flux\n  leaderlab run crash --seed 3 --timing openshift --svg crash.svg",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("run needs one scenario, got %d arguments; scenarios: %s", len(args), scenarioIDs(false))
			}
			if _, ok := scenarios.Lookup(args[0]); !ok {
				return usagef("unknown scenario %q; scenarios: %s", args[0], scenarioIDs(false))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _ := scenarios.Lookup(args[0])
			set, err := parseTiming("--timing", timing, false)
			if err != nil {
				return err
			}
			set = over.apply(cmd, set)
			lat, err := parseLatency("--latency", latency)
			if err != nil {
				return err
			}
			if err := atLeast("--candidates", candidates, 1); err != nil {
				return err
			}
			cfg := set.config(candidates, lat)
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			withT(stderr, func(tt *testing.T) int {
				rep, p := s.Run(tt, cfg, seed)
				if rep == nil {
					fmt.Fprintf(stderr, "leaderlab: the simulator could not finish %s seed %d\n", s.ID, seed)
					return exitFailed
				}
				rep.Replay = "replay: " + runCommand(s.ID, seed, set, candidates, lat)
				verdict, failed := check(s, p, rep)
				if asJSON {
					data, _ := rep.JSON()
					fmt.Fprintf(stdout, "%s\n", data)
					fmt.Fprint(stderr, verdict)
				} else {
					fmt.Fprint(stdout, rep.Text()+verdict)
				}
				if svg != "" {
					if err := os.WriteFile(svg, rep.SVG(), 0o644); err != nil {
						fmt.Fprintf(stderr, "leaderlab: --svg: %v\n", err)
						return exitFailed
					}
				}
				fmt.Fprintln(stderr, rep.Replay)
				if failed {
					return exitFailed
				}
				return exitOK
			})
			return nil
		},
	}
	fl := cmd.Flags()
	fl.Int64Var(&seed, "seed", 1, "the seed: it drives every choice of the run")
	fl.StringVar(&timing, "timing", "default", "timing LD/RD/RP or a preset: "+scenarios.PresetNames())
	over.register(cmd)
	fl.IntVar(&candidates, "candidates", 3, "candidates (replicas)")
	fl.StringVar(&latency, "latency", sim.DefaultLatency.String(), "latency of each request leg: fixed (2ms) or uniform (1ms..3ms)")
	fl.StringVar(&svg, "svg", "", "also write the run's timeline as SVG to this file")
	fl.BoolVar(&asJSON, "json", false, "print the report as JSON (the verdict goes to stderr)")
	return cmd
}

// check is the verdict on rep: the simulator's invariants and the
// scenario's expectations (from scenarios.Bounds), with the evidence of a
// failure; failed is true when either fails.
func check(s scenarios.Scenario, p scenarios.Params, rep *sim.Report) (verdict string, failed bool) {
	m := s.Expect(p)
	ok, err := m.Match(rep)
	switch {
	case err != nil:
		return fmt.Sprintf("\n%s: %s\nFAIL: %v\n", s.ID, s.Name, err), true
	case !ok:
		return fmt.Sprintf("\n%s: %s\nFAIL: %s\n", s.ID, s.Name, m.FailureMessage(rep)), true
	case len(rep.Violations) > 0:
		return fmt.Sprintf("\n%s: %s\nFAIL: %d invariant violation(s), listed above\n", s.ID, s.Name, len(rep.Violations)), true
	}
	return fmt.Sprintf("\n%s: %s\nPASS: no invariant violated, every expectation met\n", s.ID, s.Name), false
}
