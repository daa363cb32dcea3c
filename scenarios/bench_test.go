package scenarios_test

import (
	"os"
	"path/filepath"
	"strconv"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gmeasure"

	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/scenarios/benchmark"
	"github.com/leaderlab/leaderlab/sim"
)

// The failover benchmarks exist only when a label filter selects them
// (-ginkgo.label-filter=benchmark; make bench measures the same with the
// leaderlab command); go test ./... neither runs
// nor lists them. LEADERLAB_BENCH_SEEDS sets the seeds per scenario and
// timing (default 200), LEADERLAB_REPORT_DIR the report folder (default
// report/ at the module root).
var _ = Describe("failover timing", Label("benchmark"), Serial, func() {
	if filter := GinkgoLabelFilter(); filter == "" || !Label("benchmark").MatchesLabelFilter(filter) {
		return
	}

	It("measures crash, handover and rolling-restart failovers over many seeds for common timings", func() {
		seeds, err := strconv.Atoi(envOr("LEADERLAB_BENCH_SEEDS", "200"))
		Expect(err).NotTo(HaveOccurred(), "LEADERLAB_BENCH_SEEDS")
		dir := scenarios.DefaultReportDir()
		experiment := gmeasure.NewExperiment("virtual failover time")

		results, err := benchmark.Run(T(), benchmark.Spec{
			Seeds: seeds, Dir: dir, Progress: GinkgoWriter, Experiment: experiment,
		})
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry(experiment.Name, experiment)
		Expect(benchmark.WriteTable(GinkgoWriter, results)).To(Succeed())
		GinkgoWriter.Printf("report written to %s\n", dir)

		for _, r := range results {
			Expect(r.Outside).To(BeZero(), "%s at %s: failovers outside the arithmetic's window %v", r.Scenario.ID, scenarios.TimingLabel(r.Timing), r.Window)
			Expect(r.Overlaps).To(BeZero(), "%s at %s", r.Scenario.ID, scenarios.TimingLabel(r.Timing))
		}
	})

	It("draws the run, of 50 seeds, in which a partitioned leader with ReleaseOnCancel overlaps the next one longest", func() {
		s := scenarios.PartitionedLeaderWithRelease
		var longest *sim.Report
		for seed := int64(1); seed <= 50; seed++ {
			rep, p := s.Run(T(), scenarios.Config{}, seed)
			Expect(rep).To(s.Expect(p))
			if len(rep.Overlaps) > 0 && (longest == nil || rep.Overlaps[0].Duration > longest.Overlaps[0].Duration) {
				longest = rep
			}
		}
		Expect(longest).NotTo(BeNil(), "no overlap in 50 seeds, where the arithmetic allows up to %v", s.Overlap(s.Params(scenarios.Config{}, 1)).Hi)
		path := filepath.Join(scenarios.DefaultReportDir(), "timeline-"+s.ID+".svg")
		Expect(os.WriteFile(path, longest.SVG(), 0o644)).To(Succeed())
		o := longest.Overlaps[0]
		GinkgoWriter.Printf("seed %d: %s and %s overlap for %v: %s\nwritten to %s\n", longest.Seed, o.Old, o.New, o.Duration, o.Cause, path)
	})
})

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
