package sim

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// ExitGrace is how long the end of a run waits for every process's Run to
// return once its context is done. A Run still running then is reported by
// name with the goroutines it left blocked, instead of the bare deadlock
// that testing/synctest would report.
const ExitGrace = 30 * time.Second

// goroutineID is the calling goroutine's number, as stack dumps show it.
func goroutineID() uint64 {
	var buf [64]byte
	line := buf[:runtime.Stack(buf[:], false)]
	line = bytes.TrimPrefix(line, []byte("goroutine "))
	id, _ := strconv.ParseUint(string(line[:bytes.IndexByte(line, ' ')]), 10, 64)
	return id
}

// awaitExits waits up to ExitGrace for the Run of every process started in
// the run, and describes those that did not return.
func (c *Cluster) awaitExits() []string {
	c.procsMu.Lock()
	procs := append([]*process(nil), c.procs...)
	c.procsMu.Unlock()
	grace := time.NewTimer(ExitGrace)
	defer grace.Stop()
	for _, p := range procs {
		select {
		case <-p.exited:
		case <-grace.C:
			// A Run that returns at the grace's last instant has returned:
			// let the instant happen first, so that select's choice does
			// not decide.
			c.settle()
			var stuck []string
			for _, q := range procs {
				if !chanClosed(q.exited) {
					stuck = append(stuck, fmt.Sprintf("the Run of %s (start %d, identity %s) did not return within %v after its context ended; its goroutines are blocked here:\n%s",
						q.cand.name, q.start, q.identity, ExitGrace, goroutinesOf(q.goid.Load())))
				}
			}
			return stuck
		}
	}
	return nil
}

// goroutinesOf is the stack dump of goroutine id and of every goroutine it
// started, directly or not, that is still there.
func goroutinesOf(id uint64) string {
	blocks := strings.Split(string(allStacks()), "\n\n")
	parent := map[uint64]uint64{}
	byID := map[uint64]string{}
	var order []uint64
	for _, b := range blocks {
		var gid uint64
		if _, err := fmt.Sscanf(b, "goroutine %d ", &gid); err != nil {
			continue
		}
		byID[gid] = b
		order = append(order, gid)
		if i := strings.LastIndex(b, " in goroutine "); i >= 0 {
			pid, _ := strconv.ParseUint(strings.Fields(b[i+len(" in goroutine "):])[0], 10, 64)
			parent[gid] = pid
		}
	}
	descends := func(g uint64) bool {
		for seen := 0; seen < len(order) && g != 0; seen++ {
			if g == id {
				return true
			}
			g = parent[g]
		}
		return false
	}
	var out []string
	for _, g := range order {
		if descends(g) && !strings.Contains(byID[g], "leaderlab/leaderlab/sim.(*network)") {
			out = append(out, byID[g])
		}
	}
	const most = 8
	if len(out) > most {
		out = append(out[:most], fmt.Sprintf("... and %d more", len(out)-most))
	}
	return strings.Join(out, "\n\n")
}

// reportStuck fails the run for the Runs that did not return. The bubble
// cannot end while their goroutines are blocked, so testing/synctest panics
// with a deadlock right after; the message goes to standard error first,
// where it is seen before that panic.
func (c *Cluster) reportStuck(stuck []string) {
	msg := "sim: " + strings.Join(stuck, "\n")
	fmt.Fprintln(os.Stderr, msg)
	if c.t != nil {
		c.t.Error(msg)
	}
}
