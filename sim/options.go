package sim

import (
	"context"
	"fmt"
	"strconv"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/leaderelection"

	"github.com/leaderlab/leaderlab/internal/lockrules"
)

// Defaults, as controller-runtime's manager uses them.
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
	DefaultNamespace     = "default"
	DefaultLeaseName     = "leaderlab"
)

// DefaultLatency is the latency of each leg of a request (to the server and
// back) when Options.Latency is zero: uniform, so that no two candidates hear
// back at the same instant by accident.
var DefaultLatency = Dist{Min: time.Millisecond, Max: 3 * time.Millisecond}

// MinLeg is the shortest leg of a request. A leg is never shorter, so that a
// request always arrives after the instant it was sent and the order of
// events at one instant stays defined.
const MinLeg = time.Microsecond

// Verbs a latency or error rule can name, as the API server and its audit log
// name them. An empty verb matches every verb.
const (
	VerbGet    = "get"
	VerbList   = "list"
	VerbWatch  = "watch"
	VerbCreate = "create"
	VerbUpdate = "update"
	VerbPatch  = "patch"
	VerbDelete = "delete"
)

// Timing is the elector's timing. Zero fields mean the defaults 15s/10s/2s.
type Timing struct {
	LeaseDuration time.Duration `json:"leaseDuration"`
	RenewDeadline time.Duration `json:"renewDeadline"`
	RetryPeriod   time.Duration `json:"retryPeriod"`
}

// WithDefaults returns t with each zero field set to its default (15s/10s/2s),
// the timing a run with t actually uses.
func (t Timing) WithDefaults() Timing {
	if t.LeaseDuration == 0 {
		t.LeaseDuration = DefaultLeaseDuration
	}
	if t.RenewDeadline == 0 {
		t.RenewDeadline = DefaultRenewDeadline
	}
	if t.RetryPeriod == 0 {
		t.RetryPeriod = DefaultRetryPeriod
	}
	return t
}

// Dist is a latency distribution: uniform between Min and Max. Min == Max is a
// fixed latency. The zero Dist means "the default" wherever one is accepted.
type Dist struct {
	Min time.Duration `json:"min"`
	Max time.Duration `json:"max"`
}

// Fixed returns a Dist that always takes d.
func Fixed(d time.Duration) Dist { return Dist{Min: d, Max: d} }

func (d Dist) isZero() bool { return d.Min == 0 && d.Max == 0 }

func (d Dist) String() string {
	if d.Min == d.Max {
		return d.Min.String()
	}
	return d.Min.String() + ".." + d.Max.String()
}

func (d Dist) validate(field string) error {
	if d.Min < 0 || d.Max < 0 {
		return fmt.Errorf("%s (%v) must not be negative", field, d)
	}
	if d.Max < d.Min {
		return fmt.Errorf("%s: Max (%v) must not be less than Min (%v)", field, d.Max, d.Min)
	}
	return nil
}

// Options configure one simulated run. The zero value of every field except
// Candidates means the documented default.
type Options struct {
	// Seed drives every choice of the run, client-go's jitter included. The
	// same seed and options replay the same trace.
	Seed int64 `json:"seed"`
	// Candidates is the number of candidates, named c0, c1, ...; at least 1.
	Candidates int `json:"candidates"`
	// Timing is the elector's timing; zero fields mean 15s/10s/2s.
	Timing Timing `json:"timing"`
	// ReleaseOnCancel makes a candidate give the lease up when its context is
	// cancelled (Stop), as client-go's option of the same name.
	ReleaseOnCancel bool `json:"releaseOnCancel,omitempty"`
	// Latency is each leg's latency; zero means DefaultLatency. On a real
	// API server (Real) it is added to the server's own round trip, and zero
	// adds nothing.
	Latency Dist `json:"latency,omitzero"`
	// NoClientTimeout removes the client timeout max(RenewDeadline/2, 1s)
	// that leaderelection.NewResourceLock sets, to show what it protects from.
	NoClientTimeout bool `json:"noClientTimeout,omitempty"`
	// AllowOverlap turns "two acting leaders at once" from an invariant
	// violation into a reported Overlap, for scenarios built to break
	// client-go's margin.
	AllowOverlap bool `json:"allowOverlap,omitempty"`
	// SameInstantStart starts every candidate at time zero instead of a few
	// milliseconds apart (a thundering herd). With a fixed Latency exact
	// replay is then not promised.
	SameInstantStart bool `json:"sameInstantStart,omitempty"`
	// ExitOnLoss ends a built-in candidate's process when it loses
	// leadership, as a controller-runtime manager exits. By default it joins
	// the election again at once.
	ExitOnLoss bool `json:"exitOnLoss,omitempty"`
	// Restart starts a process that exited on its own (its Run returned while
	// its context was live, as a manager's does when it loses the lease)
	// again, as the kubelet restarts a Deployment's container: after
	// RestartBackOff, doubled at each restart up to RestartBackOffMax, and
	// back to RestartBackOff once a process ran RestartBackOffReset. By
	// default an exited process stays down.
	Restart bool `json:"restart,omitempty"`
	// SkipLeaderlessFaults skips a fault of Faults aimed at the Leader when
	// no candidate acts as leader (the trace says so) instead of making it
	// an invariant violation: for schedules drawn at random (package
	// explore), whose instants may fall in a leaderless time.
	SkipLeaderlessFaults bool `json:"skipLeaderlessFaults,omitempty"`
	// TraceRequests puts every request in the trace; by default only failed,
	// dropped, timed-out and conflicting ones are there.
	TraceRequests bool `json:"traceRequests,omitempty"`
	// LogVerbosity is the klog verbosity of the candidates' log lines kept in
	// the trace: 0 keeps Info and errors; client-go logs routine polls at 4-6.
	LogVerbosity int `json:"logVerbosity,omitempty"`
	// Faults is the fault plan, applied at each Fault's At.
	Faults []Fault `json:"faults,omitempty"`
	// Run replaces the built-in candidate with the caller's own code ("bring
	// your own candidate"): it runs once per process start and must return
	// when ctx is done. Nil runs client-go's LeaderElector.
	Run func(ctx context.Context, p *Process) `json:"-"`
	// WritesWithoutLeadership are the objects the candidates may write
	// without acting as leader (a heartbeat, a per-replica status), as
	// path.Match patterns of Write.Object: "configmaps default/heartbeat-*".
	// Writes from a manager's runnables that do not need leader election are
	// exempt without being named.
	WritesWithoutLeadership []string `json:"writesWithoutLeadership,omitempty"`
	// Scheme is the scheme of the simulated API server, of Cluster.Client
	// and of the managers sim.Manager builds: client-go's by default; add
	// your own types to serve them.
	Scheme *runtime.Scheme `json:"-"`
	// CRDs and CRDPaths are the custom resources the simulated API server
	// serves, with their schemas' defaults, pruning and validation rules, as
	// envtest's CRDInstallOptions take them: CRD values, and files or
	// directories of CRD manifests (kubebuilder's config/crd/bases). A Go
	// type of yours in Scheme needs no CRD to be served, but then has no
	// schema, and is namespaced: the scheme does not say a kind's scope, a
	// CRD does.
	CRDs     []*apiextensionsv1.CustomResourceDefinition `json:"-"`
	CRDPaths []string                                    `json:"crdPaths,omitempty"`
	// DisableGarbageCollection and DisableNamespaceLifecycle switch off the
	// simulated server's garbage collector (the dependents of a deleted
	// owner deleted by their ownerReferences) and namespace controller (a
	// deleted namespace emptied, then gone), which act as
	// kube-controller-manager's do, apiserver.DefaultControllerDelay of
	// virtual time after each change. A cluster runs both; envtest runs
	// neither.
	DisableGarbageCollection  bool `json:"disableGarbageCollection,omitempty"`
	DisableNamespaceLifecycle bool `json:"disableNamespaceLifecycle,omitempty"`
	// Namespace and LeaseName locate the lease; defaults "default" and
	// "leaderlab".
	Namespace string `json:"namespace,omitempty"`
	LeaseName string `json:"leaseName,omitempty"`
}

// CandidateName is the name of candidate i: "c0", "c1", ...
func CandidateName(i int) string { return "c" + strconv.Itoa(i) }

// WithDefaults returns o with every zero field that has a default filled in:
// the options a run with o actually uses, for code that derives expectations
// from them.
func (o Options) WithDefaults() Options {
	o.Timing = o.Timing.WithDefaults()
	if o.Latency.isZero() {
		o.Latency = DefaultLatency
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.LeaseName == "" {
		o.LeaseName = DefaultLeaseName
	}
	return o
}

// Validate reports the first problem with o, naming the field and the bound.
// Test calls it before the bubble starts.
func (o Options) Validate() error {
	if o.Candidates < 1 {
		return fmt.Errorf("sim: Candidates (%d) must be at least 1", o.Candidates)
	}
	for name, d := range map[string]time.Duration{"LeaseDuration": o.Timing.LeaseDuration, "RenewDeadline": o.Timing.RenewDeadline, "RetryPeriod": o.Timing.RetryPeriod} {
		if d < 0 {
			return fmt.Errorf("sim: Timing.%s (%v) must not be negative", name, d)
		}
	}
	t := o.Timing.WithDefaults()
	if t.LeaseDuration < time.Second || t.LeaseDuration%time.Second != 0 {
		return fmt.Errorf("sim: Timing.LeaseDuration (%v) must be a whole number of seconds, at least 1s: the lease stores whole seconds and client-go truncates", t.LeaseDuration)
	}
	if t.RenewDeadline >= t.LeaseDuration {
		return fmt.Errorf("sim: Timing.RenewDeadline (%v) must be less than LeaseDuration (%v)", t.RenewDeadline, t.LeaseDuration)
	}
	if minRD := time.Duration(leaderelection.JitterFactor * float64(t.RetryPeriod)); t.RenewDeadline <= minRD {
		return fmt.Errorf("sim: Timing.RenewDeadline (%v) must be greater than %v x RetryPeriod (%v)", t.RenewDeadline, leaderelection.JitterFactor, minRD)
	}
	if err := o.Latency.validate("Latency"); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	if o.LogVerbosity < 0 {
		return fmt.Errorf("sim: LogVerbosity (%d) must not be negative", o.LogVerbosity)
	}
	o = o.WithDefaults()
	if err := lockrules.CheckNamespace("Namespace", o.Namespace); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	if err := lockrules.CheckName("LeaseName", o.LeaseName); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	for i, f := range o.Faults {
		if err := f.validate(o.Candidates); err != nil {
			return fmt.Errorf("sim: Faults[%d]: %w", i, err)
		}
	}
	return nil
}
