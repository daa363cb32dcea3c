package scenarios

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/internal/gotest"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/onsi/gomega"
	"k8s.io/client-go/rest"

	"github.com/leaderlab/leaderlab/sim"
)

// Config is what a suite varies over the catalog. The zero value is
// controller-runtime's defaults with three candidates and five seeds.
type Config struct {
	// Timing is the elector's timing; zero fields mean 15s/10s/2s.
	Timing sim.Timing `json:"timing"`
	// Candidates is the number of replicas; 0 means 3, a typical Deployment.
	Candidates int `json:"candidates"`
	// Latency is each leg's latency; zero means sim.DefaultLatency.
	Latency sim.Dist `json:"latency,omitzero"`
	// Seeds are the seeds each scenario runs with; nil means DefaultSeeds.
	Seeds []int64 `json:"seeds,omitempty"`
	// ReleaseOnCancel sets sim.Options.ReleaseOnCancel for every scenario,
	// as a controller that ships with it does (Preset.Config); false leaves it
	// to each scenario's Setup, which sets it where the plan is about it
	// (handover, partition-release).
	ReleaseOnCancel bool `json:"releaseOnCancel,omitempty"`
	// NoClientTimeout removes the client timeout max(RD/2, 1s) from every
	// candidate's lock requests, as a controller that builds its lock on a
	// client without one does (Preset.Config); false keeps it.
	NoClientTimeout bool `json:"noClientTimeout,omitempty"`
	// Allowance is the round trip a real API server takes itself,
	// scheduling included, counted into every bound of a run on one
	// (RunReal); zero means DefaultAllowance. The simulator ignores it: its
	// Latency is the whole leg, and on a real server Latency is added.
	Allowance time.Duration `json:"allowance,omitempty"`
}

// DefaultAllowance is Config.Allowance on a real API server: a local
// envtest answers in milliseconds; the allowance also covers a loaded CI
// machine and the race detector.
const DefaultAllowance = 100 * time.Millisecond

// DefaultSeeds are the seeds of a Config without Seeds: enough to vary
// client-go's jitter and the phase of each fault, few enough to stay fast.
var DefaultSeeds = []int64{1, 2, 3, 4, 5}

func (c Config) candidates() int {
	if c.Candidates == 0 {
		return 3
	}
	return c.Candidates
}

func (c Config) seeds() []int64 {
	if c.Seeds == nil {
		return DefaultSeeds
	}
	return c.Seeds
}

func (c Config) String() string {
	b := BoundsFor(sim.Options{Timing: c.Timing, Latency: c.Latency})
	t := b.Timing
	s := fmt.Sprintf("%v/%v/%v, %d candidates, latency %v per leg", t.LeaseDuration, t.RenewDeadline, t.RetryPeriod, c.candidates(), b.Latency)
	if c.ReleaseOnCancel {
		s += ", ReleaseOnCancel"
	}
	if c.NoClientTimeout {
		s += ", no client timeout"
	}
	return s
}

// Params returns the run's options and arithmetic for cfg and seed: the
// Config, then s.Setup, then AllowOverlap when s.Overlap allows one.
func (s Scenario) Params(cfg Config, seed int64) Params {
	o := sim.Options{Seed: seed, Candidates: cfg.candidates(), Timing: cfg.Timing, Latency: cfg.Latency,
		ReleaseOnCancel: cfg.ReleaseOnCancel, NoClientTimeout: cfg.NoClientTimeout}
	if s.Setup != nil {
		s.Setup(&o)
	}
	b := BoundsFor(o)
	o.Timing, o.Latency = b.Timing, b.Latency
	p := Params{Bounds: b, Options: o, Rand: rand.New(rand.NewPCG(uint64(seed), 0x5ce9a))}
	if s.Overlap != nil && s.Overlap(p).Hi > 0 {
		p.Options.AllowOverlap = true
	}
	return p
}

// RealParams are Params for a run of s on a real API server: the same
// options, with Config.Latency added to the server's own round trip (zero:
// nothing added) and Config.Allowance in every bound.
func (s Scenario) RealParams(cfg Config, seed int64) Params {
	p := s.Params(cfg, seed)
	if cfg.Latency == (sim.Dist{}) {
		p.Options.Latency, p.Bounds.Latency = sim.Dist{}, sim.Dist{}
	}
	p.Bounds.Allowance = cmp.Or(cfg.Allowance, DefaultAllowance)
	return p
}

// RunReal runs s once on the real API server rc reaches, in real time (see
// sim.Real: a lease of its own, deleted afterwards), and returns the report,
// of the same type as a simulated run's, so that s.Expect and every matcher
// apply to it, and the run's Params. The error is sim.Real's.
//
//	rep, p, err := scenarios.LeaderCrash.RunReal(ctx, cfg, scenarios.Config{Timing: fast}, 1)
//	gomega.NewWithT(t).Expect(rep).To(scenarios.LeaderCrash.Expect(p))
func (s Scenario) RunReal(ctx context.Context, rc *rest.Config, cfg Config, seed int64) (*sim.Report, Params, error) {
	p := s.RealParams(cfg, seed)
	rep, err := sim.Real(ctx, rc, p.Options, func(c *sim.Cluster) { s.Plan(c, p) })
	return rep, p, err
}

// outcome is one run as the runner saw it.
type outcome struct {
	report  *sim.Report // nil when the simulator failed the run before it ended
	partial *sim.Report // the report up to the failure, then
	params  Params
	ran     bool   // false when go test left the subtest out (-run, -skip, -failfast)
	ok      bool   // the subtest passed: no invariant violation, no fatal error
	name    string // the subtest's full name (without go test's #NN when it did not run)
}

// run runs s as a subtest of t named by subtestName, so that the
// simulator's own failures land on that subtest and not on a suite's
// *testing.T.
func (s Scenario) run(t *testing.T, cfg Config, seed int64) outcome {
	o := outcome{params: s.Params(cfg, seed)}
	name := subtestName(s.ID, seed)
	var panicked any
	o.ok = t.Run(name, func(t *testing.T) {
		o.ran, o.name = true, t.Name()
		panicked = s.simulate(t, o.params, &o.report, &o.partial)
	})
	if panicked != nil {
		panic(panicked)
	}
	if !o.ran {
		o.name = t.Name() + "/" + name
	}
	return o
}

// Simulate runs s once with cfg and seed in t, without checking its
// expectations, for measurements over many seeds (package benchmark): the
// report, or nil when the simulator could not finish the run (t has failed
// then). A plan that panics fails t.
func (s Scenario) Simulate(t *testing.T, cfg Config, seed int64) *sim.Report {
	t.Helper()
	var rep, partial *sim.Report
	if panicked := s.simulate(t, s.Params(cfg, seed), &rep, &partial); panicked != nil {
		t.Fatalf("scenarios: %s seed %d: the plan panicked: %v", s.ID, seed, panicked)
	}
	return rep
}

// subtestName is the name of a run's subtest: "<ID>/seed-<n>", and inside a
// ginkgo spec "<ID>/seed-<n>/spec-<hash of the spec's full text>".
//
// The simulator prints a replay command that anchors each part of the
// subtest's name (sim.Report.Replay), and go test makes a repeated name
// unique by appending #01, #02, ... in the order the names come. Ginkgo
// specs all share the suite's *testing.T, so without the spec's part the
// number would follow the specs that ran before in the process, which
// ginkgo's shuffle of containers, focus and skip change: the "seed-1#01" of
// one run was another spec's in the replay. With it, the name is the same
// whichever specs run, in whichever order. Two specs with the same full text
// still share a name; ginkgo's focus cannot tell them apart either.
func subtestName(id string, seed int64) string {
	name := fmt.Sprintf("%s/seed-%d", id, seed)
	if spec := ginkgo.CurrentSpecReport(); spec.LeafNodeType == types.NodeTypeIt {
		h := fnv.New32a()
		h.Write([]byte(spec.FullText()))
		name += fmt.Sprintf("/spec-%08x", h.Sum32())
	}
	return name
}

// skipLeftOut ends the caller of a run that go test left out, as skipped
// with a message that names the run's subtest and the flags that left it
// out: the current ginkgo spec when there is one (ginkgo.Skip), else t
// (t.Skip). Returning a nil report instead would let a negative expectation
// on it, or a caller that skips nil reports, pass a spec that ran nothing.
func skipLeftOut(t *testing.T, o outcome) {
	ginkgo.GinkgoHelper()
	t.Helper()
	msg := fmt.Sprintf("scenarios: %s did not run: %s left it out", o.name, leftOutBy())
	if ginkgo.CurrentSpecReport().LeafNodeType != types.NodeTypeInvalid {
		ginkgo.Skip(msg)
	}
	t.Skip(msg)
}

// leftOutBy names the go test flags, as given, that can leave a subtest
// out: the -run and -skip patterns and -failfast (after a failure).
func leftOutBy() string {
	var flags []string
	for _, name := range []string{"run", "skip"} {
		if f := flag.Lookup("test." + name); f != nil && f.Value.String() != "" {
			flags = append(flags, fmt.Sprintf("-%s '%s'", name, strings.ReplaceAll(f.Value.String(), "'", `'\''`)))
		}
	}
	if f := flag.Lookup("test.failfast"); f != nil && f.Value.String() == "true" {
		flags = append(flags, "-failfast")
	}
	if len(flags) == 0 {
		return "go test"
	}
	return "go test's " + strings.Join(flags, " ")
}

// simulate runs s's plan in one bubble. It sets *rep to the report, or
// *partial to the report so far when the plan did not return (a panic, or a
// fatal error of the simulator). A panic in the plan (a Gomega failure in a
// ginkgo spec) is caught inside the bubble and returned, for the caller to
// raise again on its own goroutine.
func (s Scenario) simulate(t *testing.T, p Params, rep, partial **sim.Report) (panicked any) {
	*rep = sim.Test(t, p.Options, func(c *sim.Cluster) {
		done := false
		defer func() {
			if !done {
				*partial = c.Report()
			}
			panicked = recover()
		}()
		s.Plan(c, p)
		done = true
	})
	return panicked
}

// Run runs s once with cfg and seed as a subtest of t and returns the report
// (nil if the simulator failed the run before it ended; the subtest's log
// says why) and the run's Params. Check it with s.Expect(params):
//
//	rep, p := scenarios.LeaderCrash.Run(t, scenarios.Config{}, 1)
//	gomega.NewWithT(t).Expect(rep).To(scenarios.LeaderCrash.Expect(p))
//
// A run that go test leaves out (its -run or -skip pattern does not select
// the subtest, or -failfast after a failure) does not return: Run skips the
// current ginkgo spec, or t outside ginkgo, with a message that names the
// subtest and the flags, so that a run that did not happen is never read as
// one that passed. A test or spec that calls Run more than once therefore
// stops at the first run the pattern leaves out, and the Replay of any of
// its runs but the first skips it: run such a test whole again, or such a
// spec with its ginkgo focus.
//
// The subtest is named "<ID>/seed-<n>"; inside a ginkgo spec a third part,
// "spec-<hash of the spec's full text>", keeps go test from numbering it
// after other specs' runs, so that the report's Replay runs this spec's run
// and no other.
func (s Scenario) Run(t *testing.T, cfg Config, seed int64) (*sim.Report, Params) {
	t.Helper()
	o := s.run(t, cfg, seed)
	if !o.ran {
		skipLeftOut(t, o)
	}
	return o.report, o.params
}

// Verify runs s once inside a ginkgo spec and asserts its expectations. A
// failure shows the evidence, the seed, and the command that runs this
// spec again. t is the suite's *testing.T, captured in TestXxx before RunSpecs: synctest
// needs the *testing.T of a running test, and specs are built before one exists.
func (s Scenario) Verify(t *testing.T, cfg Config, seed int64) *sim.Report {
	ginkgo.GinkgoHelper()
	gomega.Expect(t).NotTo(gomega.BeNil(), errNilT)
	o := s.run(t, cfg, seed)
	if !o.ran {
		skipLeftOut(t, o)
	}
	replay := fmt.Sprintf("seed %d; run this spec again with:\n  %s", seed, ReplayCommand(t))
	if o.report == nil {
		tail := ""
		if o.partial != nil {
			tail = "\nlast trace lines:\n" + traceTail(o.partial, 20)
		}
		ginkgo.Fail(fmt.Sprintf("scenarios: the simulator failed the run before it ended (see the log of %s)%s\n%s", o.name, tail, replay))
	}
	o.report.Replay = replay // one rerun command: this spec's, not the subtest's
	gomega.Expect(o.report).To(s.Expect(o.params), "%s\nwhy: %s", s.Name, s.Description)
	if !o.ok {
		ginkgo.Fail(fmt.Sprintf("scenarios: the simulator failed %s: %s\n%s", o.name, strings.Join(o.report.Violations, "; "), replay))
	}
	return o.report
}

// errNilT is Verify's failure for a nil *testing.T.
const errNilT = "scenarios: the suite's *testing.T is nil: the simulator needs the *testing.T of the suite's TestXxx function. " +
	"Store it before RunSpecs (var suiteT *testing.T; func TestXxx(t *testing.T) { suiteT = t; RegisterFailHandler(Fail); RunSpecs(t, \"...\") }) " +
	"and pass func() *testing.T { return suiteT } to DescribeCatalog"

// DescribeCatalog declares one DescribeTable per scenario (the whole
// catalog when none are given), with one entry per seed of cfg, for a ginkgo
// suite. suiteT returns the suite's *testing.T, captured in the TestXxx
// function before RunSpecs; the simulator needs it and the specs are built
// before it exists. It returns true so that it can be called from a var
// declaration.
func DescribeCatalog(suiteT func() *testing.T, cfg Config, catalog ...Scenario) bool {
	if len(catalog) == 0 {
		catalog = Catalog()
	}
	return ginkgo.Describe("leader election with "+cfg.String(), func() {
		for _, s := range catalog {
			args := []any{func(seed int64) { s.Verify(suiteT(), cfg, seed) }}
			for _, seed := range cfg.seeds() {
				args = append(args, ginkgo.Entry(fmt.Sprintf("seed %d", seed), seed))
			}
			ginkgo.DescribeTable(s.Name, args...)
		}
	})
}

// ReplayCommand is the go test command that runs the current ginkgo spec
// alone: the package, the suite's test function and a focus that matches
// only this spec. Ginkgo matches the focus against the suite's description,
// a space and the spec's full text, so the focus is the full text, anchored
// after any description.
func ReplayCommand(t *testing.T) string {
	focus := "^.* " + regexp.QuoteMeta(ginkgo.CurrentSpecReport().FullText()) + "$"
	suite := strings.SplitN(t.Name(), "/", 2)[0]
	return fmt.Sprintf("go test %s -count=1 -run '^%s$' -ginkgo.focus '%s'", gotest.PackageDir(), suite, strings.ReplaceAll(focus, "'", `'\''`))
}

// DefaultReportDir is where benchmarks write when nothing else is said: the
// LEADERLAB_REPORT_DIR environment variable, else report/ at the root of the
// module whose test is running (go test runs in the package's directory).
func DefaultReportDir() string {
	if dir := os.Getenv("LEADERLAB_REPORT_DIR"); dir != "" {
		return dir
	}
	wd, err := os.Getwd()
	if err != nil {
		return "report"
	}
	return filepath.Join(gotest.ModuleRoot(wd), "report")
}
