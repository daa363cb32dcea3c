package sim

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/binary"
	"math/rand"
	"os"
	"slices"
	"strings"
	"sync"

	"k8s.io/klog/v2"
)

// client-go's wait.Jitter draws from the global math/rand, so exact replay
// needs that source seeded. Since Go 1.24 rand.Seed is a no-op unless GODEBUG
// has randseednop=0, and GODEBUG set at run time takes effect. The simulator
// keeps this side effect as narrow as it can: GODEBUG gets randseednop=0 only
// while at least one simulation runs (the caller's other settings kept, the
// old value restored after the last), and when the last simulation ends the
// global source is seeded again from crypto/rand, so code outside the
// simulations never sees a predictable sequence. The random UUIDs of
// apimachinery's uuid.NewUUID (controller-runtime gives every reconcile one,
// and logs it with its errors) are drawn from the run's seed the same way,
// and from crypto/rand outside the simulations (see uuidSource). The rest of
// the process-wide state the candidates' libraries keep (metrics registries,
// klog's global logger, apimachinery's error handlers) is routed per process
// and per run: see globals.go.

// runs tracks the simulations running in this process: they share the global
// math/rand, so two at once cannot replay exactly.
var runs struct {
	mu      sync.Mutex
	active  map[*activeRun]bool
	begun   uint64 // runs begun so far, to order them
	godebug string // GODEBUG before the first active run
	hadEnv  bool
}

// apimachinery's error handlers rate-limit with a timestamp of the real
// clock taken at package init; in a bubble, whose clock starts in 2000, the
// first error a controller hands them would wait about 26 virtual years and
// never return. While simulations run, errors go to the logger of their
// context instead: a candidate's trace, or, for utilruntime.HandleError
// without a context, klog's global logger, which routes the line to the trace
// of the process whose goroutine handled the error (see globalSink).
func logHandledError(ctx context.Context, err error, msg string, keysAndValues ...any) {
	klog.FromContext(ctx).Error(err, msg, keysAndValues...)
}

// activeRun is one simulation's claim on the process-wide state.
type activeRun struct {
	c     *Cluster
	root  uint64 // the bubble's main goroutine: every goroutine of the run descends from it
	order uint64 // how many runs began before it

	mu         sync.Mutex
	overlapped bool
	seedNote   string   // why seeding did not take effect, if it did not
	notes      []string // other reasons why the run cannot replay exactly
	registries map[*process]*registries
	uuids      *lockedSource // the source of the UUIDs its goroutines draw
}

// inexact notes a reason why the run cannot replay exactly, once.
func (r *activeRun) inexact(why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.notes, why) {
		r.notes = append(r.notes, why)
	}
}

// beginRun claims the global math/rand and the rest of the process-wide state
// (see globals.go) for the run of c and seeds it with c's seed. It is called
// on the bubble's main goroutine.
func beginRun(c *Cluster) *activeRun {
	seed := c.opts.Seed
	runs.mu.Lock()
	defer runs.mu.Unlock()
	if runs.active == nil {
		runs.active = make(map[*activeRun]bool)
	}
	if len(runs.active) == 0 {
		runs.godebug, runs.hadEnv = os.LookupEnv("GODEBUG")
		env := "randseednop=0"
		if runs.godebug != "" {
			env = runs.godebug + "," + env
		}
		_ = os.Setenv("GODEBUG", env)
	}
	runs.begun++
	r := &activeRun{c: c, root: goroutineID(), order: runs.begun, uuids: &lockedSource{r: rand.New(rand.NewSource(seed))}}
	for other := range runs.active {
		other.mu.Lock()
		other.overlapped = true
		other.mu.Unlock()
		r.overlapped = true
	}
	runs.active[r] = true
	noteLive()
	if !seedGlobal(seed) {
		r.seedNote = "seeding the global math/rand had no effect (GODEBUG " + os.Getenv("GODEBUG") +
			" does not let rand.Seed work), so client-go's jitter is not replayable"
	}
	return r
}

// seedGlobal seeds the global math/rand and reports whether it took effect:
// the first draw must be the seed's first value.
func seedGlobal(seed int64) bool {
	rand.Seed(seed) //nolint:staticcheck // client-go's jitter draws from the global source; seeding it is the point.
	ok := rand.Int63() == rand.New(rand.NewSource(seed)).Int63()
	rand.Seed(seed) //nolint:staticcheck // start the run on the seed's first value
	return ok
}

// lockedSource is a seeded source of random bytes that concurrent callers
// may share (math/rand's Rand may not be).
type lockedSource struct {
	mu sync.Mutex
	r  *rand.Rand
}

func (l *lockedSource) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// end releases the run's claim and reports whether it can be replayed
// exactly, and why not.
func (r *activeRun) end() (bool, string) {
	runs.mu.Lock()
	defer runs.mu.Unlock()
	delete(runs.active, r)
	noteLive()
	if len(runs.active) == 0 {
		var b [8]byte
		_, _ = cryptorand.Read(b[:])
		rand.Seed(int64(binary.LittleEndian.Uint64(b[:]))) //nolint:staticcheck // unpredictable again for code outside the simulations
		if runs.hadEnv {
			_ = os.Setenv("GODEBUG", runs.godebug)
		} else {
			_ = os.Unsetenv("GODEBUG")
		}
		forgetRoutes()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.registries = nil
	var why []string
	if r.seedNote != "" {
		why = append(why, r.seedNote)
	}
	if r.overlapped {
		why = append(why, "another simulation ran in this process at the same time; both drew client-go's jitter from the one global math/rand, so this run cannot be replayed exactly (run it alone with the same seed to get a replayable trace)")
	}
	why = append(why, r.notes...)
	if len(why) > 0 {
		return false, strings.Join(why, "; ")
	}
	return true, ""
}
