package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/scenarios/benchmark"
	"github.com/leaderlab/leaderlab/sim"
)

// binary is the leaderlab command built once for every test: they run it
// through its real entry point, as a user does.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "leaderlab-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "leaderlab")
	args := []string{"build", "-o", binary}
	if raceBuild {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building leaderlab:", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the command.
type result struct {
	stdout, stderr string
	code           int
}

func leaderlab(t testing.TB, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("leaderlab %q: %v", args, err)
	}
	return r
}

func TestBadInputExitsTwoWithAMessageNamingTheFlagAndTheBound(t *testing.T) {
	// The shortest timing advise finds for an 8s outage with RetryPeriod 1s;
	// the message's figures must be the arithmetic's.
	fastest := sim.Timing{LeaseDuration: 17 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: time.Second}
	b := scenarios.BoundsFor(sim.Options{Timing: fastest})
	if b.OutageKept() < 8*time.Second || b.SafeLeaseDuration() != fastest.LeaseDuration {
		t.Fatalf("the test's premise: %s keeps an 8s outage (%v) with a safe lease (%v)", scenarios.TimingLabel(fastest), b.OutageKept(), b.SafeLeaseDuration())
	}
	crash := b.Crash().Hi
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--timing", "10s/12s/2s"},
			"leaderlab: --timing \"10s/12s/2s\": RenewDeadline (12s) must be less than LeaseDuration (10s)\nsee 'leaderlab bench --help'\n"},
		{[]string{"bench", "--timing", "15500ms/10s/2s"},
			"leaderlab: --timing \"15500ms/10s/2s\": LeaseDuration (15.5s) must be a whole number of seconds, at least 1s: the lease stores whole seconds and client-go truncates\nsee 'leaderlab bench --help'\n"},
		{[]string{"bench", "--timing", "kubernetes"},
			"leaderlab: --timing \"kubernetes\": want LeaseDuration/RenewDeadline/RetryPeriod such as 15s/10s/2s, or a preset (" + scenarios.PresetNames() + ", or common)\nsee 'leaderlab bench --help'\n"},
		{[]string{"bench", "--scenarios", "crash,partition"},
			"leaderlab: --scenarios: scenario \"partition\" has no failover window to measure; the bench measures crash, handover, rolling-restart (leaderlab run runs any scenario)\nsee 'leaderlab bench --help'\n"},
		{[]string{"bench", "--seeds", "0"}, "leaderlab: --seeds (0) must be at least 1\nsee 'leaderlab bench --help'\n"},
		{[]string{"bench", "--seeds", "2", "--shards", "3"},
			"leaderlab: --shards (3) must not exceed --seeds (2): every worker needs a seed\nsee 'leaderlab bench --help'\n"},
		{[]string{"bench", "--shard", "5/8", "--seeds", "4"},
			"leaderlab: --shard 5/8: N (8) must not exceed --seeds (4): every shard needs a seed\nsee 'leaderlab bench --help'\n"},
		{[]string{"bench", "--shard", "3/2"}, "leaderlab: --shard \"3/2\": I must lie in 1..N and N must be at least 1\nsee 'leaderlab bench --help'\n"},
		{[]string{"bench", "--latency", "3ms..1ms"},
			"leaderlab: --latency \"3ms..1ms\": the upper end (1ms) must not be less than the lower (3ms)\nsee 'leaderlab bench --help'\n"},
		{[]string{"bench", "--frobnicate"}, "leaderlab: unknown flag: --frobnicate\nsee 'leaderlab bench --help'\n"},
		{[]string{"run", "split-brain"},
			"leaderlab: unknown scenario \"split-brain\"; scenarios: " + strings.Join(ids(scenarios.Catalog()), ", ") + "\nsee 'leaderlab run --help'\n"},
		{[]string{"run", "crash", "--timing", "openshift-micro"},
			"leaderlab: --timing \"openshift-micro\": want LeaseDuration/RenewDeadline/RetryPeriod such as 15s/10s/2s, or a preset (" + scenarios.PresetNames() + ")\nsee 'leaderlab run --help'\n"},
		// run takes one timing: a list is no preset and no triple.
		{[]string{"run", "crash", "--timing", "flux,default"},
			"leaderlab: --timing \"flux,default\": want LeaseDuration/RenewDeadline/RetryPeriod such as 15s/10s/2s, or a preset (" + scenarios.PresetNames() + ")\nsee 'leaderlab run --help'\n"},
		{[]string{"advise", "--timing", "flux", "--release-on-cancel=maybe"},
			"leaderlab: invalid argument \"maybe\" for \"--release-on-cancel\" flag: strconv.ParseBool: parsing \"maybe\": invalid syntax\nsee 'leaderlab advise --help'\n"},
		{[]string{"operators", "--seeds", "0"}, "leaderlab: --seeds (0) must be at least 1\nsee 'leaderlab operators --help'\n"},
		{[]string{"advise", "--outage", "-1s"}, "leaderlab: --outage (-1s) must not be negative\nsee 'leaderlab advise --help'\n"},
		{[]string{"advise", "--outage", "8s", "--max-failover", "20s"},
			fmt.Sprintf("leaderlab: --max-failover 20s cannot be met: the shortest timing that keeps the lease through --outage 8s with a safe margin (clock drift 0s) is %s, "+
				"whose crash failover can take up to %v (LD + 4.4 RP + round trips, Bounds.Crash), %v more than --max-failover; allow a longer --max-failover or a shorter --outage\nsee 'leaderlab advise --help'\n",
				scenarios.TimingLabel(fastest), crash, crash-20*time.Second)},
		{[]string{"explore", "--schedules", "0"}, "leaderlab: --schedules (0) must be at least 1\nsee 'leaderlab explore --help'\n"},
		{[]string{"explore", "--length", "10ms"}, "leaderlab: --length \"10ms\": want a duration of at least 1s, such as 2m\nsee 'leaderlab explore --help'\n"},
		{[]string{"explore", "--moves", "crash,meteor"},
			"leaderlab: --moves: unknown move \"meteor\"; moves: " + moveNames() + ", or all\nsee 'leaderlab explore --help'\n"},
		{[]string{"explore", "--max-overlap", "-1s"}, "leaderlab: --max-overlap \"-1s\": want a duration such as 0s or 1.5s\nsee 'leaderlab explore --help'\n"},
		{[]string{"explore", "--shard", "1/2", "--shards", "2"},
			"leaderlab: --shard and --shards exclude each other: --shard runs one shard here, --shards runs them all in worker processes\nsee 'leaderlab explore --help'\n"},
		{[]string{"explore", "--merge"}, "leaderlab: --merge needs the partial results to merge, such as partials/explore-*-of-4.json\nsee 'leaderlab explore --help'\n"},
		{[]string{"explore", "crash"}, "leaderlab: explore takes no arguments but with --merge, got [\"crash\"]\nsee 'leaderlab explore --help'\n"},
		{[]string{"explore", "--schedule", "{"}, "leaderlab: --schedule: not a schedule's JSON: unexpected end of JSON input\nsee 'leaderlab explore --help'\n"},
		{[]string{"merge"}, "leaderlab: merge needs the partial results to merge, such as partials/partial-*-of-4.json\nsee 'leaderlab merge --help'\n"},
		{[]string{"frobnicate"}, "leaderlab: unknown command \"frobnicate\"; the commands are bench, run, advise, explore, operators and merge\nsee 'leaderlab --help'\n"},
	}
	for _, tt := range tests {
		r := leaderlab(t, tt.args...)
		if r.code != exitUsage || r.stderr != tt.want || r.stdout != "" {
			t.Errorf("leaderlab %s: exit %d, stdout %q, stderr\n%s\nwant exit %d, no stdout, stderr\n%s", strings.Join(tt.args, " "), r.code, r.stdout, r.stderr, exitUsage, tt.want)
		}
	}
}

func ids(ss []scenarios.Scenario) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}

func TestRunPrintsTheReportAndTheCommandThatReplaysIt(t *testing.T) {
	dir := t.TempDir()
	svg := filepath.Join(dir, "crash.svg")
	r := leaderlab(t, "run", "crash", "--seed", "3", "--svg", svg)
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	replay := regexp.MustCompile(`(?m)^replay: (leaderlab run .*)$`).FindStringSubmatch(r.stderr)
	if replay == nil {
		t.Fatalf("no replay command on stderr:\n%s", r.stderr)
	}
	// The failover the report shows lies in the arithmetic's window.
	m := regexp.MustCompile(`after crash: ([0-9.]+s)`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no crash failover in the report:\n%s", r.stdout)
	}
	d, _ := time.ParseDuration(m[1])
	if w := scenarios.BoundsFor(sim.Options{}).Crash(); !w.Contains(d) {
		t.Errorf("failover %v outside the arithmetic's window %v", d, w)
	}
	if !strings.HasPrefix(r.stdout, "seed 3\n") || !strings.Contains(r.stdout, "\nPASS: ") {
		t.Errorf("report does not start with its seed or has no PASS verdict:\n%s", r.stdout)
	}
	if data, err := os.ReadFile(svg); err != nil || !bytes.HasPrefix(data, []byte("<svg")) {
		t.Errorf("--svg %s: %v, starts %.20q", svg, err, data)
	}
	// The printed command replays the same run, byte for byte.
	again := leaderlab(t, strings.Fields(replay[1])[1:]...)
	if again.code != exitOK || again.stdout != r.stdout {
		t.Errorf("%s: exit %d, and its report differs from the first run's", replay[1], again.code)
	}
	js := leaderlab(t, "run", "crash", "--seed", "3", "--json")
	var rep sim.Report
	if err := json.Unmarshal([]byte(js.stdout), &rep); err != nil || rep.Seed != 3 || len(rep.Failovers) != 1 {
		t.Errorf("--json: %v, seed %d, %d failovers", err, rep.Seed, len(rep.Failovers))
	}
}

func TestRunExitsOneWhenAnExpectationFails(t *testing.T) {
	// Legs of 2-3s against a 5s client timeout: most requests time out, so
	// the crash scenario's expectations (one leader at the end) cannot hold.
	r := leaderlab(t, "run", "crash", "--latency", "2s..3s")
	if r.code != exitFailed {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitFailed, r.stderr)
	}
	if !strings.Contains(r.stdout, "\nFAIL: ") || !strings.Contains(r.stderr, "replay: leaderlab run crash --seed 1 --timing 15s/10s/2s --candidates 3 --latency 2s..3s\n") {
		t.Errorf("no FAIL verdict on stdout or no replay command on stderr:\n%s\n%s", r.stdout, r.stderr)
	}
}

// benchArgs is a small bench: two scenarios at the default timing, few seeds.
var benchArgs = []string{"bench", "--timing", "default", "--scenarios", "crash,handover", "--seeds", "4", "--progress", "lines"}

func TestBenchShardsAndMergeGiveTheSameOutputAsOneProcess(t *testing.T) {
	one, two, merged, parts := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	r1 := leaderlab(t, append(benchArgs, "--out", one)...)
	r2 := leaderlab(t, append(benchArgs, "--out", two, "--shards", "2")...)
	for _, r := range []result{r1, r2} {
		if r.code != exitOK {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
	}
	if r1.stdout != r2.stdout {
		t.Errorf("--shards 2 printed another table than --shards 1:\n%s\n%s", r2.stdout, r1.stdout)
	}
	sameFolders(t, one, two)

	for _, sh := range []string{"2/3", "1/3", "3/3"} {
		if r := leaderlab(t, append(benchArgs, "--out", parts, "--shard", sh)...); r.code != exitOK {
			t.Fatalf("--shard %s: exit %d\n%s", sh, r.code, r.stderr)
		}
	}
	files, _ := filepath.Glob(filepath.Join(parts, "partial-*-of-3.json"))
	rm := leaderlab(t, append([]string{"merge", "--out", merged}, files...)...)
	if rm.code != exitOK || rm.stdout != r1.stdout {
		t.Errorf("merge: exit %d, table\n%s\nwant\n%s%s", rm.code, rm.stdout, r1.stdout, rm.stderr)
	}
	sameFolders(t, one, merged)

	// A shard of another bench is bad usage, and both benches are named.
	other := t.TempDir()
	if r := leaderlab(t, "bench", "--timing", "default", "--scenarios", "crash,handover", "--seeds", "5", "--shard", "2/3", "--out", other, "--progress", "none"); r.code != exitOK {
		t.Fatalf("--seeds 5 --shard 2/3: exit %d\n%s", r.code, r.stderr)
	}
	mixed := leaderlab(t, "merge", "--out", t.TempDir(), files[0], filepath.Join(other, "partial-2-of-3.json"), files[2])
	if want := "leaderlab: merge: shard 2/3 measured another bench than shard 1/3:\n" +
		"  leaderlab bench --timing 15s/10s/2s --candidates 3 --latency 1ms..3ms --scenarios crash,handover --seeds 5\n" +
		"  leaderlab bench --timing 15s/10s/2s --candidates 3 --latency 1ms..3ms --scenarios crash,handover --seeds 4\n" +
		"see 'leaderlab merge --help'\n"; mixed.code != exitUsage || mixed.stderr != want {
		t.Errorf("merge of two benches: exit %d, stderr %q, want %q", mixed.code, mixed.stderr, want)
	}

	// A shard missing is bad usage, named.
	missing := leaderlab(t, "merge", "--out", t.TempDir(), files[0], files[2])
	if want := "leaderlab: merge: shard 2/3 is missing (2 of 3 shards given)\nsee 'leaderlab merge --help'\n"; missing.code != exitUsage || missing.stderr != want {
		t.Errorf("merge without shard 2: exit %d, stderr %q, want %q", missing.code, missing.stderr, want)
	}
}

// sameFolders fails unless a and b hold the same files, byte for byte.
func sameFolders(t *testing.T, a, b string) {
	t.Helper()
	names := func(dir string) []string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	na, nb := names(a), names(b)
	if strings.Join(na, " ") != strings.Join(nb, " ") {
		t.Fatalf("%s has %v, %s has %v", a, na, b, nb)
	}
	for _, n := range na {
		da, _ := os.ReadFile(filepath.Join(a, n))
		db, _ := os.ReadFile(filepath.Join(b, n))
		if !bytes.Equal(da, db) {
			t.Errorf("%s differs between %s and %s", n, a, b)
		}
	}
}

func TestBenchMeasuresAgainstTheArithmeticAndWritesAReportPage(t *testing.T) {
	out := t.TempDir()
	r := leaderlab(t, "bench", "--timing", "default,5s/3s/1s", "--scenarios", "crash,rolling-restart", "--seeds", "3", "--out", out, "--json", "--progress", "lines")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var rows []struct {
		Scenario string              `json:"scenario"`
		Timing   sim.Timing          `json:"timing"`
		Window   scenarios.Window    `json:"window"`
		Outside  int                 `json:"outside"`
		Runs     []benchmark.SeedRun `json:"runs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 4 {
		t.Fatalf("--json: %v, %d rows, want 4\n%s", err, len(rows), r.stdout)
	}
	for _, row := range rows {
		s, _ := scenarios.Lookup(row.Scenario)
		w := s.Failover(s.Params(scenarios.Config{Timing: row.Timing}, 0))
		if row.Window != w || len(row.Runs) != 3 {
			t.Errorf("%s %s: window %v, %d runs; want the arithmetic's %v and 3 runs", row.Scenario, scenarios.TimingLabel(row.Timing), row.Window, len(row.Runs), w)
		}
		outside := 0
		for _, run := range row.Runs {
			for _, f := range run.Failovers {
				if !w.Contains(f) {
					outside++
				}
			}
		}
		if outside != row.Outside || outside != 0 {
			t.Errorf("%s %s: %d failovers outside %v, the table says %d", row.Scenario, scenarios.TimingLabel(row.Timing), outside, w, row.Outside)
		}
	}
	if !strings.Contains(r.stderr, "12 runs\n") || !strings.Contains(r.stderr, "12/12 runs") {
		t.Errorf("no progress lines for 12 runs on stderr:\n%s", r.stderr)
	}

	// index.html names only files that exist, and shows every picture.
	page, err := os.ReadFile(filepath.Join(out, indexHTML))
	if err != nil {
		t.Fatal(err)
	}
	links := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(page), -1)
	var imgs []string
	for _, l := range links {
		if _, err := os.Stat(filepath.Join(out, l[1])); err != nil {
			t.Errorf("index.html links %s: %v", l[1], err)
		}
		if strings.HasSuffix(l[1], ".svg") {
			imgs = append(imgs, l[1])
		}
	}
	want := []string{"histogram-crash.svg", "timeline-crash.svg", "histogram-rolling-restart.svg", "timeline-rolling-restart.svg"}
	if strings.Join(imgs, " ") != strings.Join(want, " ") {
		t.Errorf("index.html shows %v, want %v", imgs, want)
	}
	for _, f := range []string{tableMD, tableJSON} {
		if !strings.Contains(string(page), `href="`+f+`"`) {
			t.Errorf("index.html does not link %s", f)
		}
	}
}

func TestAdviseReproducesTheMarginArithmeticOfTheDefaults(t *testing.T) {
	r := leaderlab(t, "advise", "--timing", "default", "--seeds", "2")
	// The defaults break the margin, so they do not meet the requirements.
	if r.code != exitFailed {
		t.Fatalf("exit %d, want %d\n%s%s", r.code, exitFailed, r.stdout, r.stderr)
	}
	b := scenarios.BoundsFor(sim.Options{})
	late := b.PartitionOverlap(sim.Fixed(b.ClientTimeout), false).Hi
	release := b.PartitionOverlap(b.Latency, true).Hi
	for _, want := range []string{
		fmt.Sprintf("client timeout max(RD/2, 1s) = %v:", b.ClientTimeout),
		fmt.Sprintf("margin LD - RD - RP = 15s - 10s - 2s = %v:", b.Margin()),
		fmt.Sprintf("(a) late answers: the leader's last renew answered up to the client timeout (%v) late, then a partition: BREAKS the margin (%v > %v): two leaders for up to %v\n",
			b.ClientTimeout, b.ClientTimeout, b.Margin(), late),
		fmt.Sprintf("(b) ReleaseOnCancel with the API unreachable: the release waits up to %v before the leader stops acting: BREAKS the margin (%v > %v): two leaders for up to %v\n",
			b.ReleaseWait(), b.ReleaseWait()+b.Leg(), b.Margin(), release),
		fmt.Sprintf("safe LeaseDuration for RD 10s, RP 2s (margin > release wait + leg + grain + clock drift 0s): %v\n", b.SafeLeaseDuration()),
		fmt.Sprintf("verdict: 15s/10s/2s does not meet the requirements: margin %v short (LD %v needed)\n", b.SafeLeaseDuration()-15*time.Second, b.SafeLeaseDuration()),
		"openshift", "openshift-sno", "137s/107s/26s", "270s/240s/60s",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("advise --timing default does not say %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "FAIL") {
		t.Errorf("the simulator contradicts the arithmetic:\n%s", r.stdout)
	}
}

func TestAdviseDerivesTheShortestTimingThatMeetsTheRequirements(t *testing.T) {
	r := leaderlab(t, "advise", "--outage", "8s", "--max-failover", "30s", "--release-on-cancel", "--seeds", "2")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	m := regexp.MustCompile(`derived timing: .* \(--timing (\S+)\)`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no derived timing:\n%s", r.stdout)
	}
	set, err := parseTiming("--timing", m[1], false)
	if err != nil {
		t.Fatal(err)
	}
	tm := set.timing
	b := scenarios.BoundsFor(sim.Options{Timing: tm, ReleaseOnCancel: true})
	if b.OutageKept() < 8*time.Second || b.Crash().Hi > 30*time.Second || tm.LeaseDuration != b.SafeLeaseDuration() {
		t.Errorf("%s: keeps an outage of %v (need 8s), crash failover up to %v (need 30s), lease %v (safe %v)", m[1], b.OutageKept(), b.Crash().Hi, tm.LeaseDuration, b.SafeLeaseDuration())
	}
	// Shortest: a second less RenewDeadline no longer rides out the outage.
	shorter := tm
	shorter.RenewDeadline -= time.Second
	if scenarios.BoundsFor(sim.Options{Timing: shorter}).OutageKept() >= 8*time.Second {
		t.Errorf("%s keeps the outage too: the derived RenewDeadline is not the shortest", scenarios.TimingLabel(shorter))
	}
	if n := strings.Count(r.stdout, "\n  ok   "); n != 4 || !strings.Contains(r.stdout, "verdict: "+m[1]+" meets every requirement") {
		t.Errorf("%d of 4 checks ok, or no verdict:\n%s", n, r.stdout)
	}
}
