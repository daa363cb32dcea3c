package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leaderlab/leaderlab/explore"
)

// explore finds that client-go's default timing lets two leaders act at
// once when a foreign writer deletes the lease under a partitioned leader:
// with --max-overlap 0s that fails, exit status 1, with a shrunk schedule
// and a replay command that fails the same way. Shards change nothing.
func TestExploreFindsAnOverlapShrinksAndReplaysIt(t *testing.T) {
	args := []string{"explore", "--schedules", "60", "--max-overlap", "0s", "--progress", "none"}
	one := leaderlab(t, args...)
	if one.code != exitFailed || !strings.Contains(one.stdout, `FAILED "`+explore.CheckMaxOverlap+`" in `) {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", one.code, one.stdout, one.stderr)
	}
	var replay string
	for _, line := range strings.Split(one.stdout, "\n") {
		if rest, ok := strings.CutPrefix(line, "replay: leaderlab "); ok {
			replay = rest
			break
		}
	}
	if replay == "" {
		t.Fatalf("no replay command in:\n%s", one.stdout)
	}
	again, err := exec.Command("sh", "-c", binary+" "+replay).Output()
	var exit *exec.ExitError
	if !strings.HasPrefix(string(again), "FAILED "+explore.CheckMaxOverlap+": ") || !errors.As(err, &exit) || exit.ExitCode() != exitFailed {
		t.Errorf("the replay %q gave %v:\n%s", replay, err, again)
	}
	shrunkEvidence := ""
	for _, line := range strings.Split(one.stdout, "\n") {
		if _, ev, ok := strings.Cut(line, "candidate(s): "); ok && shrunkEvidence == "" {
			shrunkEvidence = ev
		}
	}
	if want := "FAILED " + explore.CheckMaxOverlap + ": " + shrunkEvidence + "\n"; string(again) != want {
		t.Errorf("the replay says %q, want the shrunk schedule's evidence %q", again, want)
	}
	sharded := leaderlab(t, append(args, "--shards", "2")...)
	if sharded.stdout != one.stdout || sharded.code != exitFailed {
		t.Errorf("--shards 2 gave (exit %d):\n%s\nwant, as one process:\n%s", sharded.code, sharded.stdout, one.stdout)
	}
}

// --json is the result, and a search that finds nothing exits 0.
func TestExploreJSON(t *testing.T) {
	r := leaderlab(t, "explore", "--schedules", "20", "--moves", "crash,partition", "--json", "--progress", "none")
	var res explore.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != exitOK {
		t.Fatalf("exit %d, %v:\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	if res.Schedules != 20 || len(res.Failures) != 0 || res.Seed != 1 {
		t.Errorf("result %+v, want 20 schedules of seed 1 and no failure", res)
	}
	for kind := range res.Reached {
		if kind != "crash" && kind != "start" && kind != "partition" {
			t.Errorf("--moves crash,partition reached %q", kind)
		}
	}
}

// explore --shard I/N on separate machines, then --merge: the same output
// as one process; a partial of another search, or a shard missing, is bad
// usage.
func TestExploreShardsMergeAcrossMachines(t *testing.T) {
	args := []string{"explore", "--schedules", "30", "--max-overlap", "0s", "--progress", "none"}
	one := leaderlab(t, args...)
	dir := t.TempDir()
	var paths []string
	for _, sh := range []string{"2/2", "1/2"} {
		r := leaderlab(t, append(args, "--shard", sh)...)
		if r.code != exitOK {
			t.Fatalf("--shard %s: exit %d: %s", sh, r.code, r.stderr)
		}
		path := filepath.Join(dir, strings.ReplaceAll(sh, "/", "-of-")+".json")
		if err := os.WriteFile(path, []byte(r.stdout), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	merged := leaderlab(t, append(append(args, "--merge"), paths...)...)
	if merged.stdout != one.stdout || merged.code != one.code {
		t.Errorf("merged (exit %d):\n%s\none process (exit %d):\n%s", merged.code, merged.stdout, one.code, one.stdout)
	}
	other := leaderlab(t, append([]string{"explore", "--schedules", "31", "--max-overlap", "0s", "--merge"}, paths...)...)
	want := "leaderlab: partial 1 (shard 2/2) is of another search: --timing 15s/10s/2s --latency 1ms..3ms --length 2m0s --max-overlap 0s --seed 1 --schedules 30 --candidates 3 --max-faults 3 --moves all; " +
		"these flags make --timing 15s/10s/2s --latency 1ms..3ms --length 2m0s --max-overlap 0s --seed 1 --schedules 31 --candidates 3 --max-faults 3 --moves all\nsee 'leaderlab explore --help'\n"
	if other.code != exitUsage || other.stderr != want {
		t.Errorf("a partial of another search: exit %d, %q; want %q", other.code, other.stderr, want)
	}
	missing := leaderlab(t, append(append(args, "--merge"), paths[0])...)
	if want := "leaderlab: 1 of 2 shards given: every shard is needed once\nsee 'leaderlab explore --help'\n"; missing.code != exitUsage || missing.stderr != want {
		t.Errorf("a shard missing: exit %d, %q; want %q", missing.code, missing.stderr, want)
	}
}
