package sim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/util/retry"
)

// MaxRealCandidates bounds Options.Candidates on a real API server: every
// candidate polls it.
const MaxRealCandidates = 50

// reachBound bounds the preflight request, the foreign writer's requests and
// the lease clean-up on a real API server.
const reachBound = 10 * time.Second

// Real runs body against the real API server cfg reaches (envtest, kind, a
// staging cluster), in real time, with the same candidates, faults and report
// as Test: each candidate's client is a copy of cfg (cfg is never modified)
// whose requests pass a RoundTripper that applies the run's faults, outermost,
// so client-go's own timeouts, retries and throttling run unchanged above it.
// Options.Latency, and FaultLatency, add to the server's own round trip.
//
// The run uses a lease of its own: Options.LeaseName, or "leaderlab-" and a
// random suffix when empty, in Options.Namespace; it needs get, list, create,
// update and delete on leases there, and deletes the lease afterwards. The
// report's times are real; RequestTimes.Applied is -1 (when the server
// applied a request is not observable from outside it), Report.RoundTrips
// holds the server's measured round trips per verb, and ReplayExact is false.
//
// The error is for bad input, an unreachable server, a body that ended
// early (a failed Cluster call, ctx done) and invariant violations; the
// report is returned whenever the run started. Every goroutine the run
// started has ended when Real returns.
func Real(ctx context.Context, cfg *rest.Config, opts Options, body func(c *Cluster)) (*Report, error) {
	switch {
	case ctx == nil:
		return nil, errors.New("sim: Real needs a context")
	case cfg == nil:
		return nil, errors.New("sim: Real needs a rest config")
	case body == nil:
		return nil, errors.New("sim: Real needs a body")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	for i, f := range opts.Faults {
		if why := kinds[f.Kind].notReal; why != "" {
			return nil, fmt.Errorf("sim: Faults[%d]: %s needs the simulated API server: %s", i, f.Kind, why)
		}
	}
	if len(opts.CRDs) > 0 || len(opts.CRDPaths) > 0 {
		return nil, errors.New("sim: Options.CRDs and CRDPaths serve custom resources on the simulated API server; on a real one, install the CRDs first (envtest's CRDInstallOptions take the same manifests)")
	}
	if opts.Candidates > MaxRealCandidates {
		return nil, fmt.Errorf("sim: Candidates (%d) must be at most %d on a real API server: every candidate polls it", opts.Candidates, MaxRealCandidates)
	}
	if opts.LeaseName == "" {
		opts.LeaseName = "leaderlab-" + utilrand.String(6)
	}
	noLatency := opts.Latency.isZero()
	opts = opts.WithDefaults()
	if noLatency {
		opts.Latency = Dist{} // add nothing to the server's own round trip
	}
	adminCfg := rest.CopyConfig(cfg)
	adminCfg.Timeout = reachBound
	admin, err := kubernetes.NewForConfig(adminCfg)
	if err != nil {
		return nil, fmt.Errorf("sim: building a client for %s: %w", cfg.Host, err)
	}
	if _, err := admin.CoordinationV1().Leases(opts.Namespace).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		return nil, fmt.Errorf("sim: cannot list leases in namespace %q on %s: %w", opts.Namespace, cfg.Host, err)
	}

	c := newCluster(nil, opts)
	c.ctx = ctx
	l := &live{c: c, base: rest.CopyConfig(cfg), admin: admin, timers: make(map[*time.Timer]bool), ended: make(chan struct{})}
	c.api = l
	c.begin()
	bodyErr := c.runBody(body)
	rep := c.finish()
	l.closeIdle()
	cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), reachBound)
	defer cancel()
	if err := admin.CoordinationV1().Leases(opts.Namespace).Delete(cleanup, opts.LeaseName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		bodyErr = errors.Join(bodyErr, fmt.Errorf("sim: deleting lease %s/%s after the run: %w", opts.Namespace, opts.LeaseName, err))
	}
	if len(rep.Violations) > 0 {
		bodyErr = errors.Join(bodyErr, fmt.Errorf("sim: %d invariant violation(s) on %s:\n%s\nlast trace lines:\n%s",
			len(rep.Violations), cfg.Host, strings.Join(rep.Violations, "\n"), tail(rep.Trace, 25)))
	}
	return rep, bodyErr
}

// live is the backend of a run on a real API server: timers in real time,
// and a foreign writer without faults for the lease faults.
type live struct {
	c     *Cluster
	base  *rest.Config
	admin kubernetes.Interface

	mu      sync.Mutex
	timers  map[*time.Timer]bool
	stopped bool
	nexts   []http.RoundTripper // every candidate transport, to close idle connections
	ended   chan struct{}       // closed when the run ends: requests on their way stop
}

func (l *live) minLeg() time.Duration { return 0 }

func (l *live) outside() *rest.Config { return rest.CopyConfig(l.base) }

func (l *live) groupResources() ([]*restmapper.APIGroupResources, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(l.outside())
	if err != nil {
		return nil, err
	}
	return restmapper.GetAPIGroupResources(dc)
}

// restart cannot restart a real server: its history stays.
func (l *live) restart() {}

// schedule runs fn at at on a timer of its own; Cluster.wg waits for it.
// versioned is false: a real server's versions are not all observable, so
// a stale write's content cannot be judged.
func (l *live) simulated() bool { return false }

func (l *live) describe() (string, string) {
	return "API server " + l.base.Host, "a run on a real API server does not replay: client-go's jitter, the scheduler and the server differ run to run"
}

func (l *live) refuses(k FaultKind) string { return kinds[k].notReal }

func (l *live) schedule(at time.Time, _ int, _ uint64, fn func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	l.c.wg.Add(1)
	var t *time.Timer
	t = time.AfterFunc(time.Until(at), func() {
		defer l.c.wg.Done()
		l.mu.Lock()
		delete(l.timers, t)
		stopped := l.stopped
		l.mu.Unlock()
		if !stopped {
			fn()
		}
	})
	l.timers[t] = true
}

func (l *live) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		close(l.ended)
	}
	l.stopped = true
	for t := range l.timers {
		if t.Stop() {
			l.c.wg.Done()
		}
	}
	clear(l.timers)
}

func (l *live) closeIdle() {
	l.mu.Lock()
	nexts := l.nexts
	l.mu.Unlock()
	for _, n := range nexts {
		utilnet.CloseIdleConnectionsFor(n)
	}
}

// config is a copy of the caller's config whose requests pass p's faults.
func (l *live) config(p *process) *rest.Config {
	cfg := rest.CopyConfig(l.base)
	if cfg.Transport == nil && cfg.Proxy == nil {
		// A proxy function (the default one) makes client-go build a
		// transport of this process's own instead of sharing a cached one,
		// so each process has its own connections, as a real one has.
		cfg.Proxy = http.ProxyFromEnvironment
	}
	cfg.Wrap(func(next http.RoundTripper) http.RoundTripper {
		l.mu.Lock()
		l.nexts = append(l.nexts, next)
		l.mu.Unlock()
		return &liveTransport{p: p, l: l, next: next}
	})
	return cfg
}

// liveTransport is one process's RoundTripper in front of a real API server:
// the same rules and the same request path as the simulated network, with the
// legs slept in real time and the request served by the real server.
type liveTransport struct {
	p    *process
	l    *live
	next http.RoundTripper
}

func (t *liveTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r, drop, err := newRequest(t.p, req)
	if r == nil {
		return nil, err
	}
	if drop {
		return r.wait(req, nil)
	}
	r.server = t
	if r.route.Verb == VerbWatch { // a stream lives only as long as its client
		if !t.sleep(req, r.plan.reqLeg) || !t.sleep(req, r.queue()) || !r.arrive() || !t.sleep(req, r.plan.respLeg) || !r.answer() {
			return r.wait(req, nil) // the request's context or the process ends it
		}
		return r.deliver(req)
	}
	// A plain request, once sent, is on its way as bytes on the wire are: it
	// reaches the server and is applied even when its client gives up or its
	// process dies meanwhile, as in the simulator; only the end of the run
	// stops it.
	t.p.c.wg.Go(func() {
		if t.l.pause(r.plan.reqLeg) && t.l.pause(r.queue()) && r.arrive() && t.l.pause(r.plan.respLeg) && r.answer() {
			r.reply <- struct{}{}
		}
	})
	return r.wait(req, r.reply)
}

// pause waits d; false when the run ended first.
func (l *live) pause(d time.Duration) bool {
	if d <= 0 {
		return !chanClosed(l.ended)
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-l.ended:
		return false
	}
}

// serve sends the request to the real server. A plain request is sent with
// a context of its own, bounded by reachBound, so that it completes after
// its client gave up (see RoundTrip).
func (t *liveTransport) serve(r *request) response {
	if r.route.Verb == VerbWatch {
		return r.roundTrip(r.req.Context(), t.next)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.req.Context()), reachBound)
	defer cancel()
	return r.roundTrip(ctx, t.next)
}

// WrappedRoundTripper lets client-go reach the transport below (to close
// idle connections, for example).
func (t *liveTransport) WrappedRoundTripper() http.RoundTripper { return t.next }

var _ utilnet.RoundTripperWrapper = (*liveTransport)(nil)

// sleep waits d; false when the request's context or the process ended first.
func (t *liveTransport) sleep(req *http.Request, d time.Duration) bool {
	if d <= 0 {
		return !ctxDone(req.Context()) && !t.p.isGone()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return !t.p.isGone()
	case <-req.Context().Done():
		return false
	case <-t.p.gone:
		return false
	}
}

func (l *live) deleteLease() error {
	ctx, cancel := context.WithTimeout(l.c.ctx, reachBound)
	defer cancel()
	return deleteLease(ctx, l.admin, l.c.opts)
}

func (l *live) overwriteLease(holder string) error {
	ctx, cancel := context.WithTimeout(l.c.ctx, reachBound)
	defer cancel()
	return overwriteLease(ctx, l.admin, l.c.opts, holder)
}

// deleteLease deletes the run's lease, as a foreign writer would.
func deleteLease(ctx context.Context, admin kubernetes.Interface, o Options) error {
	err := admin.CoordinationV1().Leases(o.Namespace).Delete(ctx, o.LeaseName, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// overwriteLease writes holder into the run's lease as a foreign writer
// would: holder, acquire and renew time now, the run's lease duration, one
// more transition; it creates the lease when there is none.
func overwriteLease(ctx context.Context, admin kubernetes.Interface, o Options, holder string) error {
	leases := admin.CoordinationV1().Leases(o.Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		lease, err := leases.Get(ctx, o.LeaseName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			lease, err = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: o.LeaseName, Namespace: o.Namespace}}, nil
		}
		if err != nil {
			return err
		}
		now := metav1.NewMicroTime(time.Now())
		seconds := int32(o.Timing.LeaseDuration / time.Second)
		transitions := int32(1)
		if lease.Spec.LeaseTransitions != nil {
			transitions += *lease.Spec.LeaseTransitions
		}
		lease.Spec = coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &seconds,
			AcquireTime: &now, RenewTime: &now, LeaseTransitions: &transitions}
		if lease.ResourceVersion == "" {
			_, err = leases.Create(ctx, lease, metav1.CreateOptions{})
		} else {
			_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
		}
		return err
	})
}

var errNotSimulated = errors.New("not on a real API server: use a client of your own")

func (l *live) addObject(runtime.Object) error { return errNotSimulated }

func (l *live) object(schema.GroupVersionResource, string, string) (runtime.Object, error) {
	return nil, errNotSimulated
}
