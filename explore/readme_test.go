package explore_test

import (
	"context"
	"testing"

	"github.com/leaderlab/leaderlab/examples/operator"
	"github.com/leaderlab/leaderlab/explore"
	"github.com/leaderlab/leaderlab/sim"
)

// The README's example, as a user writes it for examples/operator's
// unguarded mirror: the search must fail it.
func TestFindTheFailoverBug(t *testing.T) {
	res, err := explore.Search(t, explore.Options{
		Seed: 1, Schedules: 200, StopOnFailure: true,
		Sim:    sim.Options{Candidates: 3, Run: sim.Manager(operator.Mirror{}.Setup)},
		Action: func(_ context.Context, c *sim.Cluster, i int) error { return operator.Change(c, i) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failures) == 0 || res.Failures[0].Check != explore.CheckStale {
		t.Fatalf("the unguarded mirror passed:\n%s", res)
	}
	t.Log(res)
}
