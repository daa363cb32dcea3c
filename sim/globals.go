package sim

import (
	"bytes"
	"context"
	cryptorand "crypto/rand"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	k8smetrics "k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/textlogger"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// The candidates of a run share one Go process, and so do the runs of a
// `go test` binary, but the libraries they run keep process-wide state that a
// real process has to itself: metrics registries (a second registration of a
// collector fails with "duplicate metrics collector registration attempted",
// which controllers such as kube-controller-manager's ReplicaSet controller
// log), and klog's global logger, which utilruntime.HandleError and
// klog.Infof write to (standard error, not the trace). While simulations run,
// the simulator puts routers in their place that look up which candidate
// process the calling goroutine belongs to: each process gets registries of
// its own, as a real one has, and its global log lines go to its trace.
// Goroutines of a run that belong to no process (the network loop, the API
// server's controllers) get the run's own registries and log under "sim";
// goroutines outside every simulation get what was there before. After the
// last simulation everything is put back.
//
// A goroutine's process is found from the stack dump's "created by ... in
// goroutine N" lines: a goroutine belongs to the process whose Run goroutine
// it descends from. A full dump stops the world, so what it teaches is kept
// (goroutine numbers are never reused); it is needed only the first time a
// goroutine logs through klog's global logger or registers a collector, both
// rare.

// owner is what a goroutine belongs to: a process of a run, a run alone
// (p nil), or nothing simulated (run nil).
type owner struct {
	run *activeRun
	p   *process
}

// routes is the goroutines' owners, learnt from stack dumps while
// simulations run.
var routes struct {
	mu      sync.Mutex
	owners  map[uint64]owner
	parents map[uint64]uint64
}

// originals are what the routers stand in for, used outside the simulations.
var originals struct {
	crRegistry         crmetrics.RegistererGatherer
	promRegisterer     prometheus.Registerer
	promGatherer       prometheus.Gatherer
	legacyRegister     func(k8smetrics.Registerable) error
	legacyMustRegister func(...k8smetrics.Registerable)
	legacyRawRegister  func(...prometheus.Collector)
	legacyRegisterer   func() prometheus.Registerer
	legacyGatherer     k8smetrics.Gatherer
	legacyReset        func()
	errorHandlers      []utilruntime.ErrorHandler
}

// registries are one owner's: controller-runtime's metrics.Registry,
// prometheus' default registry, component-base's legacyregistry.
type registries struct {
	cr, prom *prometheus.Registry
	legacy   k8smetrics.KubeRegistry
}

func newRegistries() *registries {
	return &registries{cr: prometheus.NewRegistry(), prom: prometheus.NewRegistry(), legacy: k8smetrics.NewKubeRegistry()}
}

// The routers are put in place once, at package initialisation, before any
// test runs: these variables are read without locks (klog says its logger
// "should be" set "while no other goroutines invoke log calls"), so swapping
// them at the start and end of each run would race with tests running in
// parallel. Outside the simulations each router passes everything to what it
// stands in for, and klog's lines go to standard error in klog's format.
func init() {
	originals.crRegistry = crmetrics.Registry
	originals.promRegisterer, originals.promGatherer = prometheus.DefaultRegisterer, prometheus.DefaultGatherer
	originals.legacyRegister = legacyregistry.Register
	originals.legacyMustRegister = legacyregistry.MustRegister
	originals.legacyRawRegister = legacyregistry.RawMustRegister
	originals.legacyRegisterer = legacyregistry.Registerer
	originals.legacyGatherer = legacyregistry.DefaultGatherer
	originals.legacyReset = legacyregistry.Reset
	originals.errorHandlers = utilruntime.ErrorHandlers

	klog.SetLoggerWithOptions(logr.New(&globalSink{}), klog.ContextualLogger(true))
	utilruntime.ErrorHandlers = []utilruntime.ErrorHandler{handleError}
	uuid.SetRand(uuidSource{})
	crmetrics.Registry = promRouter{pick: func(r *registries) *prometheus.Registry { return r.cr }, outside: originals.crRegistry, outsideG: originals.crRegistry}
	def := promRouter{pick: func(r *registries) *prometheus.Registry { return r.prom }, outside: originals.promRegisterer, outsideG: originals.promGatherer, stableLeaks: true}
	prometheus.DefaultRegisterer, prometheus.DefaultGatherer = def, def
	legacyregistry.Register = func(c k8smetrics.Registerable) error {
		if r := registriesOf(currentOwner()); r != nil {
			return r.legacy.Register(c)
		}
		return originals.legacyRegister(c)
	}
	legacyregistry.MustRegister = func(cs ...k8smetrics.Registerable) {
		if r := registriesOf(currentOwner()); r != nil {
			r.legacy.MustRegister(cs...)
			return
		}
		originals.legacyMustRegister(cs...)
	}
	legacyregistry.RawMustRegister = func(cs ...prometheus.Collector) {
		if r := registriesOf(currentOwner()); r != nil {
			r.legacy.RawMustRegister(cs...)
			return
		}
		originals.legacyRawRegister(cs...)
	}
	legacyregistry.Registerer = func() prometheus.Registerer {
		if r := registriesOf(currentOwner()); r != nil {
			return r.legacy.Registerer()
		}
		return originals.legacyRegisterer()
	}
	legacyregistry.DefaultGatherer = legacyGatherer{}
	legacyregistry.Reset = func() {
		if r := registriesOf(currentOwner()); r != nil {
			r.legacy.Reset()
			return
		}
		originals.legacyReset()
	}
}

// handleError is apimachinery's error handler (utilruntime.HandleError): the
// original handlers outside the simulations, logHandledError inside.
func handleError(ctx context.Context, err error, msg string, kv ...any) {
	if simulating() {
		logHandledError(ctx, err, msg, kv...)
		return
	}
	for _, h := range originals.errorHandlers {
		h(ctx, err, msg, kv...)
	}
}

// uuidSource is the random source of google/uuid (apimachinery's
// uuid.NewUUID): the oldest running simulation's seeded source, crypto/rand
// when none runs.
type uuidSource struct{}

func (uuidSource) Read(p []byte) (int, error) {
	runs.mu.Lock()
	var src *lockedSource
	if len(runs.active) > 0 {
		src = oldest(activeRuns()).uuids
	}
	runs.mu.Unlock()
	if src == nil {
		return cryptorand.Read(p)
	}
	return src.Read(p)
}

// running is what the hot paths read of the running simulations without
// runs.mu: how many run, and the highest LogVerbosity among them (-1 when
// none runs). beginRun and end set it under runs.mu.
var running struct {
	runs      atomic.Int64
	verbosity atomic.Int64
}

func init() { running.verbosity.Store(-1) }

// noteLive sets running from runs.active; runs.mu is held.
func noteLive() {
	v := int64(-1)
	for r := range runs.active {
		v = max(v, int64(r.c.opts.LogVerbosity))
	}
	running.runs.Store(int64(len(runs.active)))
	running.verbosity.Store(v)
}

// simulating reports whether a simulation runs in this process.
func simulating() bool { return running.runs.Load() > 0 }

// activeRuns lists the running simulations; runs.mu is held.
func activeRuns() []*activeRun {
	active := make([]*activeRun, 0, len(runs.active))
	for r := range runs.active {
		active = append(active, r)
	}
	return active
}

// forgetRoutes drops what was learnt of goroutines, when the last simulation
// ends.
func forgetRoutes() {
	routes.mu.Lock()
	routes.owners, routes.parents = nil, nil
	routes.mu.Unlock()
}

// registriesOf are o's registries, made at first use; nil outside every
// simulation.
func registriesOf(o owner) *registries {
	if o.run == nil {
		return nil
	}
	o.run.mu.Lock()
	defer o.run.mu.Unlock()
	if o.run.registries == nil {
		o.run.registries = make(map[*process]*registries)
	}
	r := o.run.registries[o.p]
	if r == nil {
		r = newRegistries()
		o.run.registries[o.p] = r
	}
	return r
}

// promRouter stands in for a prometheus registry that libraries reach through
// a package variable (controller-runtime's metrics.Registry, prometheus'
// DefaultRegisterer and DefaultGatherer).
type promRouter struct {
	pick     func(*registries) *prometheus.Registry
	outside  prometheus.Registerer
	outsideG prometheus.Gatherer
	// stableLeaks marks prometheus' default registry: component-base's
	// legacyregistry.CustomRegister registers a StableCollector there and
	// on legacyregistry's own registry, which is unexported and cannot be
	// swapped, so such a registration outlives the run.
	stableLeaks bool
}

func (p promRouter) Register(c prometheus.Collector) error {
	o := currentOwner()
	if r := registriesOf(o); r != nil {
		p.noteLeak(o, c)
		return p.pick(r).Register(c)
	}
	return p.outside.Register(c)
}

func (p promRouter) MustRegister(cs ...prometheus.Collector) {
	o := currentOwner()
	if r := registriesOf(o); r != nil {
		for _, c := range cs {
			p.noteLeak(o, c)
		}
		p.pick(r).MustRegister(cs...)
		return
	}
	p.outside.MustRegister(cs...)
}

func (p promRouter) Unregister(c prometheus.Collector) bool {
	if r := registriesOf(currentOwner()); r != nil {
		return p.pick(r).Unregister(c)
	}
	return p.outside.Unregister(c)
}

func (p promRouter) Gather() ([]*dto.MetricFamily, error) {
	if r := registriesOf(currentOwner()); r != nil {
		return p.pick(r).Gather()
	}
	return p.outsideG.Gather()
}

func (p promRouter) noteLeak(o owner, c prometheus.Collector) {
	if _, stable := c.(k8smetrics.StableCollector); p.stableLeaks && stable {
		o.run.inexact(fmt.Sprintf("a collector (%T) was registered with component-base's legacyregistry.CustomRegister, whose registry the simulator cannot swap: it stays registered in this process, and a later run's registration of it fails", c))
	}
}

type legacyGatherer struct{}

func (legacyGatherer) Gather() ([]*dto.MetricFamily, error) {
	if r := registriesOf(currentOwner()); r != nil {
		return r.legacy.Gather()
	}
	return originals.legacyGatherer.Gather()
}

// currentOwner is the owner of the calling goroutine.
func currentOwner() owner { return ownerOf(goroutineID()) }

// ownerOf finds what goroutine g belongs to: itself a process's Run
// goroutine or a run's own, or descended from one.
func ownerOf(g uint64) owner {
	runs.mu.Lock()
	active := activeRuns()
	runs.mu.Unlock()
	if len(active) == 0 {
		return owner{}
	}
	routes.mu.Lock()
	defer routes.mu.Unlock()
	if routes.owners == nil {
		routes.owners, routes.parents = make(map[uint64]owner), make(map[uint64]uint64)
	}
	if o, ok := routes.owners[g]; ok {
		return o
	}
	// known is the owner of an ancestor a, if a is a process's or a run's.
	known := func(a uint64) (owner, bool) {
		if o, ok := routes.owners[a]; ok {
			return o, true
		}
		for _, r := range active {
			if a == r.root {
				return owner{run: r}, true
			}
			r.c.procsMu.Lock()
			procs := r.c.procs
			r.c.procsMu.Unlock()
			for _, p := range procs {
				if p.goid.Load() == a {
					return owner{run: r, p: p}, true
				}
			}
		}
		return owner{}, false
	}
	if o, ok := known(g); ok {
		routes.owners[g] = o
		return o
	}
	learnParents()
	var chain []uint64
	o, found := owner{}, false
	for a, seen := g, 0; a != 0 && seen < 1<<16; a, seen = routes.parents[a], seen+1 {
		if o, found = known(a); found {
			break
		}
		chain = append(chain, a)
	}
	if !found && len(active) > 0 && inBubble() {
		// Its ancestors are gone and were never seen: it runs in a
		// simulation, but whose process it is cannot be told. The first
		// run's own, then (several runs at once are not exact anyway).
		o = owner{run: oldest(active)}
	}
	for _, a := range chain {
		routes.owners[a] = o
	}
	return o
}

// inBubble tells a goroutine of a testing/synctest bubble, whose clock starts
// at 2000-01-01, from one outside, on the real clock.
func inBubble() bool { return time.Now().Before(time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)) }

func oldest(active []*activeRun) *activeRun {
	o := active[0]
	for _, r := range active[1:] {
		if r.order < o.order {
			o = r
		}
	}
	return o
}

// learnParents reads every goroutine's parent from a stack dump into
// routes.parents; routes.mu is held.
func learnParents() {
	for _, b := range bytes.Split(allStacks(), []byte("\n\n")) {
		if !bytes.HasPrefix(b, []byte("goroutine ")) {
			continue
		}
		rest := b[len("goroutine "):]
		gid, err := strconv.ParseUint(string(rest[:max(0, bytes.IndexByte(rest, ' '))]), 10, 64)
		if err != nil {
			continue
		}
		const in = " in goroutine "
		if i := bytes.LastIndex(b, []byte(in)); i >= 0 {
			f := strings.Fields(string(b[i+len(in):]))
			if len(f) > 0 {
				if pid, err := strconv.ParseUint(f[0], 10, 64); err == nil {
					routes.parents[gid] = pid
				}
			}
		}
	}
}

// allStacks is the stack dump of every goroutine.
func allStacks() []byte {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}

// globalSink is klog's global logger: a line goes to the trace of the
// process whose goroutine logged it, under "sim" for a run's own goroutines,
// and from outside every simulation to standard error, in klog's text format
// and with klog's verbosity, as klog writes by default.
type globalSink struct {
	names traceSink // its name and values, kept as a trace sink keeps them
	depth int
}

// stderrLogger writes klog's text format to standard error; klog's own
// verbosity (klog.V) decides what reaches it.
var stderrLogger = textlogger.NewLogger(textlogger.NewConfig(textlogger.Verbosity(math.MaxInt32), textlogger.Output(os.Stderr)))

var _ logr.CallDepthLogSink = (*globalSink)(nil)

func (s *globalSink) WithCallDepth(depth int) logr.LogSink {
	c := *s
	c.depth += depth
	return &c
}

// outside is the logger of lines from outside every simulation.
func (s *globalSink) outside() logr.Logger {
	l := stderrLogger.WithCallDepth(s.depth + 2)
	if s.names.name != "" {
		l = l.WithName(s.names.name)
	}
	return l.WithValues(s.names.values...)
}

var _ logr.LogSink = (*globalSink)(nil)

func (s *globalSink) Init(logr.RuntimeInfo) {}

// sink is where the calling goroutine's lines go: a trace sink, or nil for
// standard error.
func (s *globalSink) sink() *traceSink {
	if running.runs.Load() == 0 {
		return nil
	}
	o := currentOwner()
	if o.run == nil {
		return nil
	}
	return &traceSink{p: o.p, c: o.run.c, verbosity: o.run.c.opts.LogVerbosity, name: s.names.name, values: s.names.values}
}

// Enabled must be cheap: client-go asks it on every request of a client
// whose context has no logger. It does not look up the goroutine (a stack
// trace): a level some running simulation keeps, or klog's verbosity keeps,
// is enabled, and Info decides where the line goes and whether it is kept.
func (s *globalSink) Enabled(level int) bool {
	return int64(level) <= running.verbosity.Load() || klog.V(klog.Level(level)).Enabled()
}

func (s *globalSink) Info(level int, msg string, kv ...any) {
	if t := s.sink(); t != nil {
		if t.Enabled(level) {
			t.Info(level, msg, kv...)
		}
		return
	}
	if klog.V(klog.Level(level)).Enabled() {
		s.outside().Info(msg, kv...)
	}
}

func (s *globalSink) Error(err error, msg string, kv ...any) {
	if t := s.sink(); t != nil {
		t.Error(err, msg, kv...)
		return
	}
	s.outside().Error(err, msg, kv...)
}

func (s *globalSink) WithValues(kv ...any) logr.LogSink {
	c := *s
	c.names = *s.names.WithValues(kv...).(*traceSink)
	return &c
}

func (s *globalSink) WithName(name string) logr.LogSink {
	c := *s
	c.names = *s.names.WithName(name).(*traceSink)
	return &c
}
