package sim

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	"github.com/leaderlab/leaderlab/internal/lockrules"
	lab "github.com/leaderlab/leaderlab/leaderelection"
)

// process is one incarnation of a candidate, from start to crash or exit.
type process struct {
	c             *Cluster
	cand          *candidate
	identity      string
	clientTimeout time.Duration
	ctx           context.Context
	cancel        context.CancelFunc

	mu          sync.Mutex
	start       int // which start of the candidate this is
	started     time.Time
	gone        chan struct{} // closed on crash and at the end of the run
	exited      chan struct{} // closed when its Run has returned
	goid        atomic.Uint64 // the goroutine its Run runs on
	goneClosed  bool
	ended       string        // "crash" or "exit" once it has ended during the run
	endedAt     time.Duration // when
	stopping    bool
	leading     bool
	lastRenew   *RequestTimes
	renewFailed *time.Duration
}

// isGone reports whether the process has ended (see end).
func (p *process) isGone() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.goneClosed
}

// chanClosed reports whether ch is closed, without blocking.
func chanClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// kill marks the process gone and cancels it: nothing it does from now on is
// seen by the API or the trace.
func (p *process) kill() { p.end("") }

// end kills the process because it crashed or exited (how), as the cut-off
// report names it; "" for the end of the run.
func (p *process) end(how string) {
	p.mu.Lock()
	first := !p.goneClosed
	if first {
		p.goneClosed = true
		if how != "" {
			p.ended, p.endedAt = how, p.c.Now()
		}
	}
	p.mu.Unlock()
	// The process is gone (isGone) before either signal, and its contexts
	// end before gone closes: a goroutine woken by either finds both, so
	// what it does next (client-go retries a failed renew with a Get on the
	// same context) does not depend on which goroutine ran first.
	p.cancel()
	if first {
		close(p.gone)
	}
}

func (p *process) renewed(r *request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.leading {
		return
	}
	start := p.c.start
	p.lastRenew = &RequestTimes{Sent: r.sent.Sub(start), Applied: r.arrived.Sub(start), Answered: r.answered.Sub(start)}
	if !p.c.api.simulated() { // a real server applied it at some instant inside the round trip
		p.lastRenew.Applied = -1
	}
}

func (p *process) logged(msg string) {
	if msg != msgFailedToRenew {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.renewFailed == nil && p.leading {
		now := p.c.Now()
		p.renewFailed = &now
	}
}

// startedLeading and stoppedLeading bracket a term.
func (p *process) startedLeading() {
	if p.isGone() {
		return
	}
	p.mu.Lock()
	p.leading, p.lastRenew, p.renewFailed = true, nil, nil
	p.mu.Unlock()
	p.c.rec.termStarted(p.cand.name, p.identity)
}

func (p *process) stoppedLeading(cause string) {
	p.mu.Lock()
	if !p.leading {
		p.mu.Unlock()
		return
	}
	p.leading = false
	if cause == "" {
		cause = EndLost
		if p.stopping {
			cause = EndStop
		}
	}
	last, failed := p.lastRenew, p.renewFailed
	p.mu.Unlock()
	p.c.rec.termEnded(p.cand.name, cause, last, failed)
	// Faults held for a term's end apply at this instant, as the
	// simulator's own events, after what runs now.
	for _, fire := range p.c.rules.termEnded() {
		p.c.api.schedule(time.Now(), -1, 0, fire)
	}
}

func (c *Cluster) startProcess(cand *candidate, identity string) {
	cand.mu.Lock()
	if p := cand.proc; p != nil && !p.isGone() && !ctxDone(p.ctx) && !chanClosed(p.exited) {
		cand.mu.Unlock()
		c.rec.add("sim", "start "+cand.name+": already running")
		return
	}
	if identity != "" {
		cand.identity = identity
	}
	cand.starts++
	p := &process{c: c, cand: cand, identity: cand.identity, start: cand.starts, started: time.Now(), gone: make(chan struct{}), exited: make(chan struct{})}
	cand.proc = p
	cand.mu.Unlock()
	if cand.starts > 1 {
		c.endReplica(cand.name, nil, "its process started again")
	}

	logger := klog.New(&traceSink{p: p, verbosity: c.opts.LogVerbosity})
	p.ctx, p.cancel = context.WithCancel(klog.NewContext(context.Background(), logger))
	rd := c.opts.Timing.RenewDeadline
	if c.opts.NoClientTimeout {
		rd = 0
	} else {
		p.clientTimeout = lockrules.ClientTimeout(rd)
	}
	cfg := c.api.config(p)
	lock, err := lab.NewResourceLock(cfg, nil, lab.Options{
		LeaderElection: true, LeaderElectionID: c.opts.LeaseName, LeaderElectionNamespace: c.opts.Namespace,
		RenewDeadline: rd, Identity: p.identity,
	})
	if err != nil {
		c.rec.add(cand.name, "cannot build lock: "+err.Error())
		p.kill()
		close(p.exited)
		return
	}
	c.rec.add(cand.name, fmt.Sprintf("process started (identity %s)", p.identity))
	proc := &Process{Name: cand.name, Identity: p.identity, Config: cfg, Lock: lock,
		Timing: c.opts.Timing, ReleaseOnCancel: c.opts.ReleaseOnCancel, p: p}
	run := c.opts.Run
	if run == nil {
		run = c.runElector
	}
	c.procsMu.Lock()
	c.procs = append(c.procs, p)
	c.procsMu.Unlock()
	c.wg.Go(func() {
		p.goid.Store(goroutineID())
		run(p.ctx, proc)
		p.stoppedLeading("")
		defer close(p.exited)
		if p.isGone() {
			return
		}
		// A process is gone once its Run returns: whatever goroutines it
		// leaves behind are cut off, as at a crash.
		stopped := p.ctx.Err() != nil
		p.end(EndExit)
		if !c.opts.Restart || stopped {
			c.rec.add(cand.name, "process exited")
			return
		}
		delay := cand.restartDelay(time.Since(p.started))
		c.rec.add(cand.name, fmt.Sprintf("process exited; restarting in %v (back-off)", delay))
		c.api.schedule(time.Now().Add(delay), -1, 0, func() {
			if cand.current() == p { // not started again meanwhile
				c.startProcess(cand, "")
			}
		})
	})
}

// The kubelet's restart back-off for a container that exits (CrashLoopBackOff).
const (
	RestartBackOff      = 10 * time.Second // the first delay, doubled at each restart
	RestartBackOffMax   = 5 * time.Minute
	RestartBackOffReset = 10 * time.Minute // a run this long resets the delay
)

// restartDelay is how long the kubelet waits to start the candidate again
// after a process that ran for ran exited.
func (cand *candidate) restartDelay(ran time.Duration) time.Duration {
	cand.mu.Lock()
	defer cand.mu.Unlock()
	if ran >= RestartBackOffReset || cand.backoff == 0 {
		cand.backoff = RestartBackOff
	} else {
		cand.backoff = min(2*cand.backoff, RestartBackOffMax)
	}
	return cand.backoff
}

// runElector is the built-in candidate: client-go's LeaderElector, joining the
// election again after a loss unless ExitOnLoss.
func (c *Cluster) runElector(ctx context.Context, p *Process) {
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(p.ElectionConfig(leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) {},
			OnStoppedLeading: func() {},
		}))
		if err != nil {
			c.rec.add(p.Name, "cannot build elector: "+err.Error())
			return
		}
		le.Run(ctx)
		if c.opts.ExitOnLoss || ctx.Err() != nil {
			return
		}
	}
}

// Process is one start of a candidate, as a bring-your-own candidate
// (Options.Run) receives it.
type Process struct {
	// Name is the candidate's name ("c0", ...); Identity the lease holder
	// identity of this start.
	Name     string
	Identity string
	// Config reaches the API through this candidate's network (latency,
	// faults, partitions): the simulated API server, or a copy of the real
	// server's config with the faults in a RoundTripper. It has no client
	// timeout; Lock's client has the one leaderelection.NewResourceLock sets.
	// In the simulator it asks for protobuf, as kube-controller-manager's
	// clients do; custom resources come back as JSON, and a client that
	// sends your own Go types needs a copy with ContentConfig cleared (what
	// sim.Manager gives a manager).
	Config *rest.Config
	// Lock is the lease lock from leaderelection.NewResourceLock.
	Lock resourcelock.Interface
	// Timing and ReleaseOnCancel are the run's options.
	Timing          Timing
	ReleaseOnCancel bool

	p *process
}

// Callbacks wraps cb so that the simulator sees the terms: the candidate acts
// as leader from OnStartedLeading until the context handed to it is done.
// Every bring-your-own candidate must run its elector with wrapped callbacks.
func (p *Process) Callbacks(cb leaderelection.LeaderCallbacks) leaderelection.LeaderCallbacks {
	proc := p.p
	wrapped := cb
	wrapped.OnStartedLeading = func(ctx context.Context) {
		proc.startedLeading()
		context.AfterFunc(ctx, func() { proc.stoppedLeading("") })
		if cb.OnStartedLeading != nil {
			cb.OnStartedLeading(ctx)
		}
	}
	if cb.OnStoppedLeading == nil {
		wrapped.OnStoppedLeading = func() {}
	}
	return wrapped
}

// ElectionConfig is the client-go configuration the built-in candidate runs:
// the run's timing and ReleaseOnCancel, this process's lock, and cb wrapped
// by Callbacks.
func (p *Process) ElectionConfig(cb leaderelection.LeaderCallbacks) leaderelection.LeaderElectionConfig {
	return leaderelection.LeaderElectionConfig{
		Lock:            p.Lock,
		LeaseDuration:   p.Timing.LeaseDuration,
		RenewDeadline:   p.Timing.RenewDeadline,
		RetryPeriod:     p.Timing.RetryPeriod,
		ReleaseOnCancel: p.ReleaseOnCancel,
		Name:            p.Name,
		Callbacks:       p.Callbacks(cb),
	}
}
