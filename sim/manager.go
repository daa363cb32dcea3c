package sim

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// Manager is an Options.Run that makes every candidate process a real
// controller-runtime manager: built on the candidate's Config and Lock, with
// the run's timing and ReleaseOnCancel, its logger writing into the trace
// under the candidate's name, and what a bubble needs filled in (no metrics,
// health-probe or pprof listener; controller name validation skipped, since
// every manager of the run shares one process). Each opt then adjusts the
// options (a scheme, a cache restricted to namespaces, ...); setup adds the
// user's reconcilers and runnables; then the manager starts.
//
// The managers map kinds to resources with one RESTMapper, read once from
// the server's discovery when the first manager starts, outside the
// network. controller-runtime's default mapper reads discovery lazily while
// it holds the informer cache's lock; in a bubble a goroutine waiting for a
// lock is not durably blocked, so virtual time could not pass while that
// request crossed the network, and the run would hang.
//
// The candidate acts as leader exactly while the manager's leader-election
// runnables run: from their start, when the manager has won the lease, until
// their context is done. When Start returns (the manager lost the lease, or
// its context ended) the process exits, as a Deployment's container does.
//
// Options that cannot work here are an error before the manager is built,
// recorded as a violation of the run that names the option: a metrics,
// health-probe or pprof bind address (a listening socket), a webhook server,
// leader election switched off, or another lock. So are a setup that returns
// an error or panics.
func Manager(setup func(manager.Manager) error, opts ...func(*manager.Options)) func(context.Context, *Process) {
	return func(ctx context.Context, p *Process) {
		if err := runManager(ctx, p, setup, opts); err != nil {
			p.p.c.rec.violation("%s: sim.Manager: %v", p.Name, err)
		}
	}
}

func runManager(ctx context.Context, p *Process, setup func(manager.Manager) error, opts []func(*manager.Options)) error {
	if setup == nil {
		return errors.New("setup is nil")
	}
	o, err := managerOptions(p, klog.FromContext(ctx), opts)
	if err != nil {
		return err
	}
	mgr, err := manager.New(operatorConfig(p.Config), o)
	if err != nil {
		return fmt.Errorf("building the manager: %w", err)
	}
	if r := p.p.c.run; r != nil {
		r.inexact(managerInexact)
	}
	if err := mgr.Add(actingLeader{p.p}); err != nil {
		return fmt.Errorf("adding the simulator's runnable: %w", err)
	}
	if err := callSetup(setup, unledManager{mgr}); err != nil {
		return err
	}
	err = mgr.Start(ctx)
	switch {
	case err == nil || ctx.Err() != nil:
		// stopped or crashed: the process ends as its context did
	default:
		p.p.c.rec.add(p.Name, "manager exited: "+err.Error())
	}
	return nil
}

// managerInexact is why a run of managers does not promise an exact replay.
const managerInexact = "a controller-runtime manager ran: when one of its controllers starts, its 100 ms cache-sync poll and the informer that fills its cache can meet at one virtual instant, and the Go scheduler decides which goes first, so a replay can see that controller start one poll later (about 1 run in 70)"

// operatorConfig is cfg as a real operator's config is (ctrl.GetConfigOrDie
// reads a kubeconfig): no content type, so controller-runtime speaks JSON,
// the only encoding custom resources have, and protobuf is never tried on a
// custom Go type.
func operatorConfig(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.ContentConfig = rest.ContentConfig{}
	return cfg
}

// managerOptions are the options of p's manager: the simulator's, then the
// caller's adjustments, checked for what cannot run in a bubble.
func managerOptions(p *Process, logger klog.Logger, opts []func(*manager.Options)) (manager.Options, error) {
	o := manager.Options{
		Logger:                              logger,
		LeaderElection:                      true,
		LeaderElectionResourceLockInterface: p.Lock,
		LeaderElectionID:                    p.p.c.opts.LeaseName,
		LeaderElectionNamespace:             p.p.c.opts.Namespace,
		LeaseDuration:                       new(p.Timing.LeaseDuration),
		RenewDeadline:                       new(p.Timing.RenewDeadline),
		RetryPeriod:                         new(p.Timing.RetryPeriod),
		LeaderElectionReleaseOnCancel:       p.ReleaseOnCancel,
		Metrics:                             metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:              "0",
		PprofBindAddress:                    "0",
		Controller:                          config.Controller{SkipNameValidation: new(true)},
		MapperProvider:                      p.p.c.restMapper,
	}
	if s := p.p.c.opts.Scheme; s != nil {
		o.Scheme = s
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	listens := func(addr string) bool { return addr != "" && addr != "0" }
	switch {
	case listens(o.Metrics.BindAddress):
		return o, fmt.Errorf("option Metrics.BindAddress %q: a listening socket never blocks durably, so virtual time could not pass; leave it \"0\"", o.Metrics.BindAddress)
	case listens(o.HealthProbeBindAddress):
		return o, fmt.Errorf("option HealthProbeBindAddress %q: a listening socket never blocks durably, so virtual time could not pass; leave it \"0\"", o.HealthProbeBindAddress)
	case listens(o.PprofBindAddress):
		return o, fmt.Errorf("option PprofBindAddress %q: a listening socket never blocks durably, so virtual time could not pass; leave it \"0\"", o.PprofBindAddress)
	case o.WebhookServer != nil:
		return o, errors.New("option WebhookServer: a webhook server listens on a socket, and nothing in the simulation would call it; test webhooks apart")
	case !o.LeaderElection:
		return o, errors.New("option LeaderElection is false: every candidate of the run takes part in the election")
	case o.LeaderElectionResourceLockInterface != p.Lock:
		return o, errors.New("option LeaderElectionResourceLockInterface: the candidate's lock is the run's (Process.Lock); replacing it takes the manager out of the simulated election")
	}
	return o, nil
}

// callSetup runs the user's setup, turning a panic into an error.
func callSetup(setup func(manager.Manager) error, mgr manager.Manager) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("setup panicked: %v", v)
		}
	}()
	if err := setup(mgr); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	return nil
}

// actingLeader is a leader-election runnable of every simulated manager: it
// runs exactly while the manager's other leader-election runnables do, and
// tells the simulator so.
type actingLeader struct{ p *process }

func (a actingLeader) NeedLeaderElection() bool { return true }

func (a actingLeader) Start(ctx context.Context) error {
	a.p.startedLeading()
	<-ctx.Done()
	a.p.stoppedLeading("")
	return nil
}

// restMapper is the managers' RESTMapper (see Manager), read from discovery
// outside the network once per run.
func (c *Cluster) restMapper(*rest.Config, *http.Client) (meta.RESTMapper, error) {
	c.mapperOnce.Do(func() {
		groups, err := c.api.groupResources()
		if err != nil {
			c.mapperErr = fmt.Errorf("reading discovery: %w", err)
			return
		}
		c.mapper = restmapper.NewDiscoveryRESTMapper(groups)
	})
	return c.mapper, c.mapperErr
}

// unledManager is the manager setup sees: its Add marks the runnables that
// run without leader election (NeedLeaderElection false), so that the writes
// they make with the context they are started with are attributed to them
// and never counted stale.
type unledManager struct{ manager.Manager }

func (m unledManager) Add(r manager.Runnable) error {
	le, ok := r.(manager.LeaderElectionRunnable)
	if !ok || le.NeedLeaderElection() {
		return m.Manager.Add(r)
	}
	switch r.(type) {
	case *manager.Server, interface{ GetCache() cache.Cache }, webhook.Server:
		return m.Manager.Add(r) // grouped by what they are; they write nothing of the user's
	}
	u := unled{Runnable: r, name: fmt.Sprintf("%T", r)}
	if w, ok := r.(interface{ Warmup(context.Context) error }); ok {
		return m.Manager.Add(unledWarmup{u, w})
	}
	return m.Manager.Add(u)
}

// unledKey marks the context of a runnable without leader election.
type unledKey struct{}

type unled struct {
	manager.Runnable
	name string
}

func (u unled) NeedLeaderElection() bool { return false }

func (u unled) Start(ctx context.Context) error {
	return u.Runnable.Start(context.WithValue(ctx, unledKey{}, u.name))
}

type unledWarmup struct {
	unled
	w interface{ Warmup(context.Context) error }
}

func (u unledWarmup) Warmup(ctx context.Context) error { return u.w.Warmup(ctx) }
