package gotest

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// AsTest runs f as a test of its own named name, so that an example or a
// benchmark can hand the simulator the *testing.T that testing/synctest
// needs; it reports whether f passed. -test.v and -test.count are set to
// false and 1 meanwhile, so that the inner test prints nothing on success
// and runs once.
func AsTest(name string, f func(t *testing.T)) bool {
	if cpu := flag.Lookup("test.cpu"); cpu != nil && strings.Contains(cpu.Value.String(), ",") {
		fmt.Fprintf(os.Stderr, "AsTest: -test.cpu %s: give one value; each would run the inner test again\n", cpu.Value)
		return false
	}
	restore := setFlags(map[string]string{"test.v": "false", "test.count": "1"})
	defer restore()
	return testing.RunTests(func(string, string) (bool, error) { return true, nil },
		[]testing.InternalTest{{Name: name, F: f}})
}

// setFlags sets the flags that exist and returns what puts them back.
func setFlags(values map[string]string) (restore func()) {
	old := map[string]string{}
	for name, v := range values {
		if fl := flag.Lookup(name); fl != nil {
			old[name] = fl.Value.String()
			_ = fl.Value.Set(v)
		}
	}
	return func() {
		for name, v := range old {
			_ = flag.Lookup(name).Value.Set(v)
		}
	}
}

// WatchPeakHeap samples the heap in use every 20 ms until stop is called;
// peak is the most it saw.
func WatchPeakHeap() (peak func() uint64, stop func()) {
	var most atomic.Uint64
	done, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		var m runtime.MemStats
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > most.Load() {
				most.Store(m.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return most.Load, func() { close(done); <-ended }
}

// WorkerEnv is the environment of one of shards worker processes that run
// simulations: env, with what a worker runs best with unless env sets it:
// its share of the cores (GOMAXPROCS; workers that each spread over every
// core contend for them, while a run keeps about 1.2 cores busy) and a
// collector that runs less often (GOGC=400: a simulated run makes much
// short-lived garbage and keeps a heap of tens of MB).
func WorkerEnv(env []string, shards int) []string {
	set := map[string]bool{}
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		set[name] = true
	}
	if !set["GOMAXPROCS"] {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(max(1, runtime.NumCPU()/shards)))
	}
	if !set["GOGC"] {
		env = append(env, "GOGC=400")
	}
	return env
}
