package scenarios_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/leaderlab/leaderlab/scenarios"
)

// Two specs whose runs, the leader crash with seed 1, would have the same
// subtest name under the suite's *testing.T. Each prints its run's replay
// command, for the specs below that run them in a child process.
var _ = Describe("two specs that run one scenario with one seed", func() {
	It("runs the leader crash with seed 1 and three candidates", func() {
		runAndPrintReplay(scenarios.Config{})
	})
	It("runs the leader crash with seed 1 and two candidates", func() {
		runAndPrintReplay(scenarios.Config{Candidates: 2})
	})
})

func runAndPrintReplay(cfg scenarios.Config) {
	GinkgoHelper()
	rep, p := scenarios.LeaderCrash.Run(T(), cfg, 1)
	Expect(rep).To(scenarios.LeaderCrash.Expect(p))
	GinkgoWriter.Println(rep.Replay)
}

const (
	threeCandidates = "two specs that run one scenario with one seed runs the leader crash with seed 1 and three candidates"
	twoCandidates   = "two specs that run one scenario with one seed runs the leader crash with seed 1 and two candidates"
)

var _ = Describe("a run that go test leaves out", func() {
	It("is not another spec's: the replay command of a run selects its own spec among specs whose runs share a name", func() {
		// The second spec alone, as a focus, a skip or ginkgo's shuffle of
		// containers can leave it: its run is the process's first
		// crash/seed-1, and go test numbers names in order of use.
		alone := runSuite("-test.run=^TestScenarios$", "-ginkgo.focus= "+regexp.QuoteMeta(twoCandidates)+"$")
		Expect(states(alone)).To(Equal(map[string]types.SpecState{twoCandidates: types.SpecStatePassed}))
		replay := regexp.MustCompile(`-run '([^']*)'`).FindStringSubmatch(specs(alone)[twoCandidates].CapturedGinkgoWriterOutput)
		Expect(replay).To(HaveLen(2), "the run's replay command")

		// Its replay command, with both specs in the suite, runs it and not
		// the first spec, whose run now comes first.
		both := runSuite("-test.run="+replay[1], "-ginkgo.focus= two specs that run one scenario with one seed ")
		Expect(states(both)).To(Equal(map[string]types.SpecState{
			threeCandidates: types.SpecStateSkipped,
			twoCandidates:   types.SpecStatePassed,
		}), "replayed with -run '%s'", replay[1])
	})

	It("skips its ginkgo spec, saying which run did not run and why", func() {
		r := runSuite("-test.run=^TestScenarios$/^no-such-run$", "-ginkgo.focus= "+regexp.QuoteMeta(threeCandidates)+"$")
		Expect(states(r)).To(Equal(map[string]types.SpecState{threeCandidates: types.SpecStateSkipped}))
		Expect(specs(r)[threeCandidates].Failure.Message).To(MatchRegexp(`^` + regexp.QuoteMeta("scenarios: TestScenarios/crash/seed-1/spec-") + `[0-9a-f]{8}` +
			regexp.QuoteMeta(" did not run: go test's -run '^TestScenarios$/^no-such-run$' left it out") + `$`))
	})

	It("skips its plain test, saying which run did not run and why", func() {
		out, err := exec.Command(os.Args[0], "-test.run=^TestRunLeftOut$/^no-such-run$", "-test.v").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(string(out)).To(MatchRegexp(`(?m)^--- SKIP: TestRunLeftOut `))
		Expect(string(out)).To(MatchRegexp(`(?m)^    leftout_test\.go:\d+: ` +
			regexp.QuoteMeta("scenarios: TestRunLeftOut/crash/seed-1 did not run: go test's -run '^TestRunLeftOut$/^no-such-run$' left it out") + `$`))
	})
})

// TestRunLeftOut is a plain test with one run, for the spec above that
// runs it with a -run pattern that leaves the run out.
func TestRunLeftOut(t *testing.T) {
	rep, p := scenarios.LeaderCrash.Run(t, scenarios.Config{}, 1)
	NewWithT(t).Expect(rep).To(scenarios.LeaderCrash.Expect(p))
}

// runSuite runs this test binary again with args and returns ginkgo's
// reports of the specs it did not leave out by focus. A spec that fails in it is this spec's
// evidence, not its failure: the caller checks the states.
func runSuite(args ...string) []types.SpecReport {
	GinkgoHelper()
	path := filepath.Join(GinkgoT().TempDir(), "report.json")
	out, _ := exec.Command(os.Args[0], append(args, "-ginkgo.json-report="+path)...).CombinedOutput()
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred(), string(out))
	var reports []types.Report
	Expect(json.Unmarshal(data, &reports)).To(Succeed())
	var ran []types.SpecReport
	for _, r := range reports {
		for _, s := range r.SpecReports {
			if s.LeafNodeType != types.NodeTypeIt || s.State == types.SpecStateSkipped && s.Failure.Message == "" {
				continue // a suite node, or a spec the focus left out
			}
			ran = append(ran, s)
		}
	}
	return ran
}

// specs are reports by the spec's full text.
func specs(reports []types.SpecReport) map[string]types.SpecReport {
	m := map[string]types.SpecReport{}
	for _, r := range reports {
		m[r.FullText()] = r
	}
	return m
}

// states are the specs' states by their full text.
func states(reports []types.SpecReport) map[string]types.SpecState {
	m := map[string]types.SpecState{}
	for _, r := range reports {
		m[r.FullText()] = r.State
	}
	return m
}
