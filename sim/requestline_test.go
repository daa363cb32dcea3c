package sim_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/sim"
)

// The text report's request line names every verb that occurred, in a fixed
// order (reads, then writes), and no other, so that its parts add up to the
// total. A manager's run has watches (its informers) and patches (the
// copier's, and its event recorder's) besides gets, creates and updates, and
// no deletes.
func TestRequestLineShowsEveryVerb(t *testing.T) {
	rep := sim.Test(t, sim.Options{Seed: 3, Candidates: 2, Run: sim.Manager(copier)}, func(c *sim.Cluster) {
		setInput(c, "1")
		c.AwaitLeader(ld + 2*rp)
		c.Advance(5 * time.Second)
		setInput(c, "2")
		c.Advance(5 * time.Second)
	})
	s := rep.Requests
	if s.ByVerb[sim.VerbWatch] == 0 || s.ByVerb[sim.VerbPatch] == 0 || s.ByVerb[sim.VerbDelete] != 0 {
		t.Fatalf("requests by verb %v: want watches and patches and no delete, for the line to show", s.ByVerb)
	}
	sum := 0
	var parts []string
	for _, v := range []string{"get", "list", "watch", "create", "update", "patch", "delete"} {
		sum += s.ByVerb[v]
		if n := s.ByVerb[v]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", v, n))
		}
	}
	if sum != s.Total {
		t.Fatalf("requests by verb %v add up to %d, not the total %d", s.ByVerb, sum, s.Total)
	}
	want := fmt.Sprintf("requests %d (%s), conflicts %d, timeouts %d, injected errors %d, dropped %d, refused %d",
		s.Total, strings.Join(parts, ", "), s.Conflicts, s.Timeouts, s.Injected, s.Dropped, s.Refused)
	var got string
	for _, line := range strings.Split(rep.Text(), "\n") {
		if strings.HasPrefix(line, "requests ") {
			got = line
		}
	}
	if got != want {
		t.Errorf("request line\n%s\nwant\n%s", got, want)
	}
}
