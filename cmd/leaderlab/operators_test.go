package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

const operatorsPage = "../../docs/operators.md"

// plainBinary is the command built without the race detector. The page's
// figures are a few thousand simulated runs: checking them is about their
// values, not races, and under -race they would take minutes instead of
// about half a minute. The race detector checks the same code through
// binary in TestOperatorsFluxRowsAreTheArithmetic.
func plainBinary(t *testing.T) string {
	t.Helper()
	if !raceBuild {
		return binary
	}
	out := filepath.Join(filepath.Dir(binary), "leaderlab-norace")
	if _, err := os.Stat(out); err == nil {
		return out
	}
	build := exec.Command("go", "build", "-o", out, ".")
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building leaderlab without -race: %v\n%s", err, msg)
	}
	return out
}

// The committed page is exactly what the command prints for the seed count
// the page records: its figures came from this code, and a change to the
// presets, the arithmetic or the simulator that moves one fails here until
// the page is regenerated.
func TestOperatorsPageIsWhatTheCommandPrints(t *testing.T) {
	page, err := os.ReadFile(operatorsPage)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`leaderlab operators --seeds (\d+) > docs/operators.md`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("%s does not record the command that made it", operatorsPage)
	}
	seeds := string(m[1])
	start := time.Now()
	cmd := exec.Command(plainBinary(t), "operators", "--seeds", seeds)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("leaderlab operators --seeds %s: %v\n%s", seeds, err, stderr.String())
	}
	if string(out) != string(page) {
		got := filepath.Join(t.TempDir(), "operators.md")
		_ = os.WriteFile(got, out, 0o644)
		t.Errorf("%s differs from what leaderlab operators --seeds %s prints (written to %s); regenerate it with\n  go run ./cmd/leaderlab operators --seeds %s > docs/operators.md", operatorsPage, seeds, got, seeds)
	}
	t.Logf("leaderlab operators --seeds %s: %v", seeds, time.Since(start).Round(time.Millisecond))
}

// cells returns the cells of the row of preset name in the page's table
// that starts with header.
func cells(t *testing.T, page, header, name string) []string {
	t.Helper()
	_, table, ok := strings.Cut(page, header)
	if !ok {
		t.Fatalf("no table %q in the page", header)
	}
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(line, "| "+name+" |") {
			c := strings.Split(strings.Trim(line, "|"), "|")
			for i := range c {
				c[i] = strings.TrimSpace(c[i])
			}
			return c
		}
		if line == "" {
			break
		}
	}
	t.Fatalf("no row %s in table %q", name, header)
	return nil
}

// Flux's rows say what client-go's arithmetic says for Flux's settings,
// and its measured overlap of a partitioned leader with ReleaseOnCancel
// replays with the seed the page gives, within the arithmetic's bound.
// Run under -race, this also checks the page's code for races (with a few
// seeds).
func TestOperatorsFluxRowsAreTheArithmetic(t *testing.T) {
	r := leaderlab(t, "operators", "--seeds", "3")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	flux, _ := scenarios.LookupPreset("flux")
	b := scenarios.BoundsFor(sim.Options{Timing: flux.Timing, ReleaseOnCancel: true}) // Flux: controller-runtime's client timeout
	late := b.PartitionOverlap(sim.Fixed(b.ClientTimeout), false).Hi
	release := b.PartitionOverlap(sim.DefaultLatency, true).Hi
	both := b.PartitionOverlap(sim.Fixed(b.ClientTimeout), true).Hi
	want := []string{"flux", b.Margin().String(), "up to " + late.String(), "up to " + release.String(), "up to " + both.String(),
		b.OutageKept().String(), b.Crash().String()}
	if got := cells(t, r.stdout, "| preset | margin |", "flux"); strings.Join(got, " | ") != strings.Join(want, " | ") {
		t.Errorf("flux's arithmetic row is\n  %s\nwant\n  %s", strings.Join(got, " | "), strings.Join(want, " | "))
	}
	// The margin is 0 and the release waits 15s: the "up to 15 s".
	if b.Margin() != 0 || b.ClientTimeout != 15*time.Second {
		t.Errorf("flux: margin %v, client timeout %v; the issue derives 0s and 15s", b.Margin(), b.ClientTimeout)
	}

	// The committed page's longest partition-release overlap for flux
	// replays with its seed: leaderlab run prints it, and its own replay
	// command prints the same report.
	page, err := os.ReadFile(operatorsPage)
	if err != nil {
		t.Fatal(err)
	}
	measured := cells(t, string(page), "| preset | crash failover", "flux")[2]
	m := regexp.MustCompile(`^\d+ of \d+, ([0-9.]+s) \((\d+)\) / `).FindStringSubmatch(measured)
	if m == nil {
		t.Fatalf("flux's partition-release cell %q has no longest overlap and seed", measured)
	}
	longest, _ := time.ParseDuration(m[1])
	if longest <= 0 || longest > release {
		t.Errorf("the page's longest overlap %v is not within the arithmetic's (0, %v]", longest, release)
	}
	run := leaderlab(t, "run", "partition-release", "--timing", "flux", "--seed", m[2])
	if run.code != exitOK {
		t.Fatalf("run partition-release --timing flux --seed %s: exit %d\n%s", m[2], run.code, run.stderr)
	}
	o := regexp.MustCompile(`both acting for ([0-9.]+s) `).FindStringSubmatch(run.stdout)
	if o == nil {
		t.Fatalf("no overlap in the run's report:\n%s", run.stdout)
	}
	d, _ := time.ParseDuration(o[1])
	if d.Round(time.Millisecond) != longest {
		t.Errorf("seed %s overlaps for %v, the page says %v", m[2], d, longest)
	}
	replay := regexp.MustCompile(`(?m)^replay: (leaderlab run .*)$`).FindStringSubmatch(run.stderr)
	wantReplay := fmt.Sprintf("leaderlab run partition-release --seed %s --timing 35s/30s/5s --release-on-cancel --candidates 3 --latency %v", m[2], sim.DefaultLatency)
	if replay == nil || replay[1] != wantReplay {
		t.Fatalf("replay command %q, want %q", replay, wantReplay)
	}
	again := leaderlab(t, strings.Fields(replay[1])[1:]...)
	if again.code != exitOK || again.stdout != run.stdout {
		t.Errorf("%s: exit %d, and its report differs from the first run's", replay[1], again.code)
	}

	// advise --timing flux analyses Flux as it ships: ReleaseOnCancel on,
	// so both cases and their sum.
	adv := leaderlab(t, "advise", "--timing", "flux", "--seeds", "2")
	for _, s := range []string{
		fmt.Sprintf("(b) ReleaseOnCancel with the API unreachable: the release waits up to %v before the leader stops acting: BREAKS the margin (%v > %v): two leaders for up to %v\n",
			b.ReleaseWait(), b.ReleaseWait()+b.Leg(), b.Margin(), release),
		fmt.Sprintf("(a) and (b) at once (a late last renew, then the release's wait): overlap up to %v\n", both),
		"ReleaseOnCancel true; client timeout max(RD/2, 1s);",
	} {
		if !strings.Contains(adv.stdout, s) {
			t.Errorf("advise --timing flux does not say %q:\n%s", s, adv.stdout)
		}
	}
	// --release-on-cancel=false overrides the preset: no case (b).
	off := leaderlab(t, "advise", "--timing", "flux", "--release-on-cancel=false", "--seeds", "1")
	if !strings.Contains(off.stdout, "ReleaseOnCancel false;") || strings.Contains(off.stdout, "(a) and (b) at once") {
		t.Errorf("advise --timing flux --release-on-cancel=false still releases:\n%s", off.stdout)
	}
}

// A preset without a client timeout runs without one, and the replay says
// so; case (a) then waits up to RenewDeadline.
func TestRunWithAPresetWithoutClientTimeout(t *testing.T) {
	cm, _ := scenarios.LookupPreset("cert-manager")
	b := cm.Bounds(sim.DefaultLatency)
	r := leaderlab(t, "run", "late-renews-partition", "--timing", "cert-manager", "--seed", "2")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "NoClientTimeout:true") || !strings.Contains(r.stdout, "ReleaseOnCancel:true") {
		t.Errorf("the run's options do not carry cert-manager's settings:\n%s", r.stdout)
	}
	if want := "replay: leaderlab run late-renews-partition --seed 2 --timing 60s/40s/15s --release-on-cancel --no-client-timeout --candidates 3"; !strings.Contains(r.stderr, want) {
		t.Errorf("no %q on stderr:\n%s", want, r.stderr)
	}
	if b.LatestAnswer() != cm.Timing.RenewDeadline {
		t.Errorf("without a client timeout the latest answer is RD (%v), Bounds says %v", cm.Timing.RenewDeadline, b.LatestAnswer())
	}
}
