package scenarios_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"

	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

var _ = Describe("running a scenario", func() {
	It("prints the evidence, the seed and the command that replays a failing spec", func() {
		s := scenarios.LeaderCrash
		s.Expect = func(scenarios.Params) types.GomegaMatcher {
			return scenarios.HaveFailoversWithin(scenarios.Window{Hi: time.Second}) // a crash cannot fail over in 1s
		}
		failures := InterceptGomegaFailures(func() { s.Verify(T(), scenarios.Config{}, 3) })
		Expect(failures).To(HaveLen(1))
		Expect(failures[0]).To(ContainSubstring("seed 3; run this spec again with:\n  go test ./scenarios -count=1 -run '^TestScenarios$' -ginkgo.focus '^.* running a scenario prints the evidence"))
		Expect(failures[0]).To(MatchRegexp(`c\d -> c\d after crash took 1\dm?\.?\d*s`))
		Expect(failures[0]).To(ContainSubstring("why: The leader's process dies"))
		Expect(strings.Count(failures[0], "go test ")).To(Equal(1), "one rerun command, not two")

		// The command's focus selects exactly this spec among all of the
		// suite's: ask this test binary, in a dry run.
		focus := regexp.MustCompile(`-ginkgo.focus '([^']*)'`).FindStringSubmatch(failures[0])
		Expect(focus).To(HaveLen(2))
		out, err := exec.Command(os.Args[0], "-test.run=^TestScenarios$", "-ginkgo.dry-run", "-ginkgo.focus="+focus[1]).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(string(out)).To(MatchRegexp(`Ran 1 of \d+ Specs`))
	})

	It("says what to do when the suite's *testing.T is nil, instead of a nil-pointer panic", func() {
		msg := InterceptGomegaFailure(func() { scenarios.LeaderCrash.Verify(nil, scenarios.Config{}, 1) })
		// Our sentence in full, then Gomega's rendering of the nil value.
		Expect(msg).To(MatchError(HavePrefix("scenarios: the suite's *testing.T is nil: the simulator needs the *testing.T of the suite's TestXxx function. " +
			"Store it before RunSpecs (var suiteT *testing.T; func TestXxx(t *testing.T) { suiteT = t; RegisterFailHandler(Fail); RunSpecs(t, \"...\") }) " +
			"and pass func() *testing.T { return suiteT } to DescribeCatalog\n")))
	})

	It("raises a Gomega failure of the plan on the spec's goroutine, with the run's bubble ended", func() {
		s := scenarios.SteadyState
		s.Plan = func(c *sim.Cluster, p scenarios.Params) {
			c.AwaitLeader(p.Crash().Hi)
			Expect(c.Leaders()).To(HaveLen(2), "a deliberate failure inside the bubble")
		}
		msg := InterceptGomegaFailure(func() { s.Verify(T(), scenarios.Config{}, 1) })
		Expect(msg).To(MatchError(ContainSubstring("a deliberate failure inside the bubble")))
	})

	It("resolves the options: the Config, then the scenario's setup, then AllowOverlap", func() {
		p := scenarios.ThunderingHerd.Params(scenarios.Config{Candidates: 2}, 9)
		Expect(p.Options.Seed).To(Equal(int64(9)))
		Expect(p.Options.Candidates).To(Equal(scenarios.HerdSize))
		Expect(p.Options.SameInstantStart).To(BeTrue())
		Expect(p.Options.Timing).To(Equal(timing(15*time.Second, 10*time.Second, 2*time.Second)))
		Expect(p.Options.AllowOverlap).To(BeFalse())
		Expect(scenarios.LeaseDeleted.Params(scenarios.Config{}, 1).Options.AllowOverlap).To(BeTrue())
		Expect(scenarios.PartitionedLeaderWithReleaseSafeLease.Params(scenarios.Config{}, 1).Options.Timing.LeaseDuration).To(Equal(18 * time.Second))
	})
})
