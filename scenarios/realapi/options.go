package realapi

import (
	"fmt"
	"strconv"
	"time"

	"k8s.io/client-go/tools/leaderelection"

	lab "github.com/leaderlab/leaderlab/leaderelection"
	"github.com/leaderlab/leaderlab/sim"
)

// Harness defaults. The timing is short so that a trial on a real server takes
// seconds, and whole-second where the lease stores seconds.
const (
	DefaultLeaseDuration = 3 * time.Second
	DefaultRenewDeadline = 2 * time.Second
	DefaultRetryPeriod   = 500 * time.Millisecond
	DefaultCandidates    = 3
	DefaultNamespace     = "default"
	// DefaultAllowance is the allowance for one request's round trip on a
	// local API server, scheduling included, used in every bound. A local
	// envtest answers in milliseconds; the allowance also covers a loaded CI
	// machine and the race detector.
	DefaultAllowance = 100 * time.Millisecond
	// DefaultLateRenews is how many renews LateRenewThenPartition answers late
	// before it partitions the leader.
	DefaultLateRenews = 2
	// MaxCandidates bounds Options.Candidates: every candidate polls a real
	// server.
	MaxCandidates = 50
)

// Timing is the elector's timing. Zero fields mean the harness defaults
// 3s/2s/500ms (not client-go's 15s/10s/2s: a real-time trial should take
// seconds). It has the same fields as sim.Timing, so one converts to the
// other with a plain conversion.
type Timing struct {
	LeaseDuration time.Duration `json:"leaseDuration"`
	RenewDeadline time.Duration `json:"renewDeadline"`
	RetryPeriod   time.Duration `json:"retryPeriod"`
}

// DefaultTiming is the harness default: 3s/2s/500ms, client timeout 1s,
// margin LeaseDuration - RenewDeadline - RetryPeriod = 500ms.
func DefaultTiming() Timing {
	return Timing{LeaseDuration: DefaultLeaseDuration, RenewDeadline: DefaultRenewDeadline, RetryPeriod: DefaultRetryPeriod}
}

// OverlapTiming is a timing under which client-go's arithmetic predicts an
// overlap in every trial of the two margin-breaking scenarios, while the plain
// partition keeps a positive margin: 4s/3.6s/100ms, client timeout 1.8s,
// margin 300ms. The renew deadline is long, so the client timeout (and with it
// a late answer or a pending release) is long against the margin, and the
// retry period is short, so followers poll fast and their jitter (at most
// 2 x 2.2 x RetryPeriod) cannot hide the overlap. With the harness defaults the
// same overlaps are possible but not certain.
func OverlapTiming() Timing {
	return Timing{LeaseDuration: 4 * time.Second, RenewDeadline: 3600 * time.Millisecond, RetryPeriod: 100 * time.Millisecond}
}

// withDefaults fills zero fields with the harness defaults. They differ from
// sim's (client-go's 15s/10s/2s, sim.Timing.WithDefaults) in every field, on
// purpose, so they are the harness's own; everything else about a timing is
// sim's (validate).
func (t Timing) withDefaults() Timing {
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

// validate checks t, with the harness defaults, by sim's rules: no negative
// field, the ones client-go's NewLeaderElector applies, and a whole-second
// lease (the lease stores whole seconds and client-go truncates). The same
// timing must run in sim for Compare, so the rules are sim's, not a copy.
func (t Timing) validate() error {
	if err := (sim.Options{Candidates: 1, Timing: sim.Timing(t.withDefaults())}).Validate(); err != nil {
		return fmt.Errorf("realapi: %w", err)
	}
	return nil
}

// nonNegative checks name, value pairs of one type: the first negative value
// is an error naming prefix+name.
func nonNegative[T int | time.Duration](prefix string, pairs ...any) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if v, _ := pairs[i+1].(T); v < 0 {
			return fmt.Errorf("realapi: %s%s (%v) must not be negative", prefix, pairs[i], v)
		}
	}
	return nil
}

// Margin is LeaseDuration - RenewDeadline - RetryPeriod: how much later than a
// stuck leader's step-down a follower may take over, when every answer is
// prompt.
func (t Timing) Margin() time.Duration {
	t = t.withDefaults()
	return t.LeaseDuration - t.RenewDeadline - t.RetryPeriod
}

// maxPoll is the longest wait between two polls of an elector:
// RetryPeriod x (1 + JitterFactor) = 2.2 x RetryPeriod.
func (t Timing) maxPoll() time.Duration {
	return time.Duration(float64(t.RetryPeriod) * (1 + leaderelection.JitterFactor))
}

// Latency is latency added to every request of a candidate, per leg: on the
// way to the server (Request) and on the way back (Response). Both legs honour
// the request's context: a request whose context ends during a leg fails at
// once with the context's error. A response delayed past the context's end is
// lost to the client, but the server has applied the request.
type Latency struct {
	Request  time.Duration `json:"request,omitempty"`
	Response time.Duration `json:"response,omitempty"`
}

func (l Latency) validate(field string) error {
	if l.Request < 0 || l.Response < 0 {
		return fmt.Errorf("realapi: %s (request %v, response %v) must not be negative", field, l.Request, l.Response)
	}
	return nil
}

// Options configure Run. The zero value of every field means the documented
// default.
type Options struct {
	// Timing is the elector's timing; zero fields mean 3s/2s/500ms.
	Timing Timing `json:"timing"`
	// Candidates is the number of candidates per trial, named c0, c1, ...;
	// zero means 3. At least 2 (a failover needs a follower), at most
	// MaxCandidates.
	Candidates int `json:"candidates"`
	// Trials is how many times the scenario runs; zero means 1.
	Trials int `json:"trials"`
	// Parallel is how many trials run at once; zero means 1. Trials use
	// separate leases and cannot interfere, but they share the server, so
	// many at once raise its latency.
	Parallel int `json:"parallel,omitempty"`
	// Namespace holds the trials' leases; empty means "default". Each trial
	// uses a lease of its own with a random name and deletes it at the end.
	Namespace string `json:"namespace"`
	// Latency is added to every request of every candidate, to model a
	// remote API server. It counts into the round trip of every bound.
	Latency Latency `json:"latency,omitzero"`
	// Allowance is the allowance for one round trip of the server itself,
	// scheduling included, in every bound; zero means DefaultAllowance.
	Allowance time.Duration `json:"allowance"`
	// NoClientTimeout removes the client timeout max(RenewDeadline/2, 1s)
	// that leaderelection.NewResourceLock sets, to show what it protects
	// from; requests are then bounded only by the elector's contexts.
	NoClientTimeout bool `json:"noClientTimeout,omitempty"`
	// SlowResponse is the response leg of SlowRenew's one slow answer; zero
	// means RenewDeadline + RetryPeriod. It must exceed RenewDeadline.
	SlowResponse time.Duration `json:"slowResponse,omitempty"`
	// LateResponse is the response leg of LateRenewThenPartition's late
	// answers; zero means the request bound (the client timeout) minus two
	// round trips, or less if the lease is too short for that. It must
	// leave a round trip inside the request bound, and a follower must still
	// see every late renew within the lease.
	LateResponse time.Duration `json:"lateResponse,omitempty"`
	// LateRenews is how many renews LateRenewThenPartition answers late
	// before the partition; zero means DefaultLateRenews.
	LateRenews int `json:"lateRenews,omitempty"`
}

// CandidateName is the name of candidate i: "c0", "c1", ... (as in sim). It is
// also the candidate's identity in the lease.
func CandidateName(i int) string { return "c" + strconv.Itoa(i) }

func (o Options) withDefaults() Options {
	o.Timing = o.Timing.withDefaults()
	if o.Candidates == 0 {
		o.Candidates = DefaultCandidates
	}
	if o.Trials == 0 {
		o.Trials = 1
	}
	if o.Parallel == 0 {
		o.Parallel = 1
	}
	o.Parallel = min(o.Parallel, o.Trials)
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Allowance == 0 {
		o.Allowance = DefaultAllowance
	}
	if o.SlowResponse == 0 {
		o.SlowResponse = o.Timing.RenewDeadline + o.Timing.RetryPeriod
	}
	if o.LateResponse == 0 {
		// As late as the request bound allows, and early enough that
		// followers still see every late renew within the lease.
		o.LateResponse = min(o.requestBound()-2*o.roundTrip(),
			o.Timing.LeaseDuration-o.Timing.RetryPeriod-o.Timing.maxPoll()-2*o.roundTrip())
	}
	if o.LateRenews == 0 {
		o.LateRenews = DefaultLateRenews
	}
	return o
}

// Validate reports the first problem with o, naming the field and the bound.
// Run calls it before anything is sent to the server.
func (o Options) Validate() error {
	if err := o.Timing.validate(); err != nil {
		return err
	}
	if o.Candidates != 0 && (o.Candidates < 2 || o.Candidates > MaxCandidates) {
		return fmt.Errorf("realapi: Candidates (%d) must be between 2 and %d: a failover needs a follower", o.Candidates, MaxCandidates)
	}
	if err := nonNegative[int]("", "Trials", o.Trials, "Parallel", o.Parallel, "LateRenews", o.LateRenews); err != nil {
		return err
	}
	if err := o.Latency.validate("Latency"); err != nil {
		return err
	}
	if err := nonNegative[time.Duration]("", "Allowance", o.Allowance, "SlowResponse", o.SlowResponse, "LateResponse", o.LateResponse); err != nil {
		return err
	}
	r := o.withDefaults()
	if _, err := lab.Resolve(lab.Options{LeaderElection: true, LeaderElectionID: "realapi", LeaderElectionNamespace: r.Namespace, Identity: "x"}); err != nil {
		return fmt.Errorf("realapi: Namespace: %w", err)
	}
	if r.SlowResponse <= r.Timing.RenewDeadline {
		return fmt.Errorf("realapi: SlowResponse (%v) must be longer than RenewDeadline (%v)", r.SlowResponse, r.Timing.RenewDeadline)
	}
	if o.LateResponse != 0 {
		if err := r.validateLate(); err != nil {
			return err
		}
	}
	return nil
}

// validateLate checks LateResponse (resolved) for LateRenewThenPartition.
func (r Options) validateLate() error {
	if limit := r.requestBound() - r.roundTrip(); r.LateResponse <= 0 || r.LateResponse >= limit {
		return fmt.Errorf("realapi: LateResponse (%v) must be positive and shorter than the request bound (%v) minus one round trip (%v), so that the late answer still arrives",
			r.LateResponse, r.requestBound(), r.roundTrip())
	}
	if cycle := r.LateResponse + r.roundTrip() + r.Timing.RetryPeriod + r.Timing.maxPoll(); cycle >= r.Timing.LeaseDuration {
		return fmt.Errorf("realapi: LateResponse (%v) is too long for LeaseDuration (%v): a renew every %v, seen up to %v later by a follower, lets followers take over during the late renews",
			r.LateResponse, r.Timing.LeaseDuration, r.LateResponse+r.roundTrip()+r.Timing.RetryPeriod, r.Timing.maxPoll())
	}
	return nil
}

// roundTrip is one request's round trip in the bounds: the allowance plus the
// added latency of both legs.
func (o Options) roundTrip() time.Duration {
	return o.Allowance + o.Latency.Request + o.Latency.Response
}

// clientTimeout is the lock's client timeout, or 0 with NoClientTimeout.
func (o Options) clientTimeout() time.Duration {
	if o.NoClientTimeout {
		return 0
	}
	return lab.ClientTimeout(o.Timing.RenewDeadline)
}

// requestBound is how long one request of the renew loop or of a release can
// take: the client timeout, and never more than RenewDeadline (both the renew
// poll and client-go's release run under a RenewDeadline context).
func (o Options) requestBound() time.Duration {
	if ct := o.clientTimeout(); ct > 0 {
		return min(ct, o.Timing.RenewDeadline)
	}
	return o.Timing.RenewDeadline
}
