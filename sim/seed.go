package sim

import (
	"math/rand"
	"os"
	"strings"
	"sync"
)

// seedGlobalRandOnce makes rand.Seed effective: since Go 1.24 it is a no-op
// unless GODEBUG has randseednop=0. Setting GODEBUG at run time takes effect;
// the caller's other settings are kept.
var seedGlobalRandOnce = sync.OnceFunc(func() {
	old := os.Getenv("GODEBUG")
	if strings.Contains(old, "randseednop=0") {
		return
	}
	if old != "" {
		old += ","
	}
	_ = os.Setenv("GODEBUG", old+"randseednop=0")
})

// seedGlobalRand seeds the global math/rand that client-go's wait.Jitter
// draws from.
func seedGlobalRand(seed int64) {
	rand.Seed(seed) //nolint:staticcheck // client-go's jitter draws from the global source; seeding it is the point.
}

// runs tracks the simulations running in this process: they share the global
// math/rand, so two at once cannot replay exactly.
var runs struct {
	mu     sync.Mutex
	active map[*activeRun]bool
}

type activeRun struct {
	overlapped bool
}

func beginRun() *activeRun {
	runs.mu.Lock()
	defer runs.mu.Unlock()
	if runs.active == nil {
		runs.active = make(map[*activeRun]bool)
	}
	r := &activeRun{}
	for other := range runs.active {
		other.overlapped = true
		r.overlapped = true
	}
	runs.active[r] = true
	return r
}

// end reports whether the run can be replayed exactly, and why not.
func (r *activeRun) end() (bool, string) {
	runs.mu.Lock()
	defer runs.mu.Unlock()
	delete(runs.active, r)
	if r.overlapped {
		return false, "another simulation ran in this process at the same time; both drew client-go's jitter from the one global math/rand, so this run cannot be replayed exactly (run it alone with the same seed to get a replayable trace)"
	}
	return true, ""
}
