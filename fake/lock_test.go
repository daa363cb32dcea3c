package fake_test

import (
	"context"
	"errors"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	"github.com/leaderlab/leaderlab/fake"
	ll "github.com/leaderlab/leaderlab/leaderelection"
)

var ctx = context.Background()

// newFakeLock returns the lock NewResourceLock gives for options.
func newFakeLock(t *testing.T, options ll.Options) *fake.Lock {
	t.Helper()
	lock, err := fake.NewResourceLock(nil, nil, options)
	if err != nil {
		t.Fatal(err)
	}
	return lock.(*fake.Lock)
}

func TestNewResourceLockHoldsLeadership(t *testing.T) {
	lock, err := fake.NewResourceLock(nil, nil, ll.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := lock.(fake.ControllableResourceLockInterface); !ok {
		t.Fatalf("%T is not a ControllableResourceLockInterface", lock)
	}
	host, _ := os.Hostname()
	if !regexp.MustCompile("^" + regexp.QuoteMeta(host) + "_[0-9a-f-]{36}$").MatchString(lock.Identity()) {
		t.Fatalf("identity %q, want hostname_UUID", lock.Identity())
	}
	rec, _, err := lock.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rec.HolderIdentity != lock.Identity() || rec.LeaseDurationSeconds != 1 || rec.LeaderTransitions != 1 {
		t.Fatalf("record = %+v; want held by %s as controller-runtime's fake starts", rec, lock.Identity())
	}
	if lock.Describe() != fake.DefaultNamespace+"/"+fake.DefaultLeaseName {
		t.Fatalf("Describe = %q", lock.Describe())
	}
	// The lock has read the lease, so its holder can renew straight away.
	if err := lock.Update(ctx, *rec); err != nil {
		t.Fatalf("renew = %v", err)
	}
}

func TestNewResourceLockUsesOptions(t *testing.T) {
	lock := newFakeLock(t, ll.Options{
		LeaderElectionID: "my-lease", LeaderElectionNamespace: "ns", Identity: "me",
		LeaderLabels: map[string]string{"role": "leader"},
	})
	st := lock.Lease().State()
	if lock.Identity() != "me" || lock.Describe() != "ns/my-lease" || st.Record.HolderIdentity != "me" || st.Labels["role"] != "leader" {
		t.Fatalf("identity %q, describe %q, state %+v", lock.Identity(), lock.Describe(), st)
	}
	// Every lock is its own lease: two managers with fake locks do not interfere.
	other := newFakeLock(t, ll.Options{LeaderElectionID: "my-lease", LeaderElectionNamespace: "ns", Identity: "you"})
	if other.Lease() == lock.Lease() {
		t.Fatal("two NewResourceLock calls share a lease")
	}
}

// notSubdomain is apimachinery's explanation of a DNS-1123 subdomain, the tail
// of the error for a badly formed lease name.
const notSubdomain = `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`

func TestBadInput(t *testing.T) {
	lease := fake.NewLease(namespace, "bad-input")
	lock := lease.Lock("a")
	tests := []struct {
		name string
		err  error
		want string // the whole message
	}{
		// NewResourceLock applies leaderelection.NewResourceLock's rules, with its messages.
		{"removed lock kind", newLockErr(ll.Options{LeaderElectionResourceLock: "configmaps"}),
			`fake: lock kind "configmaps" was removed from client-go; set LeaderElectionResourceLock to "leases" (controller-runtime v0.7 to v0.11 users: migrate through a release that uses "configmapsleases" first)`},
		{"removed multilock kind", newLockErr(ll.Options{LeaderElectionResourceLock: "endpointsleases"}),
			`fake: lock kind "endpointsleases" was removed from client-go; set LeaderElectionResourceLock to "leases" directly: this multilock already keeps its record in a lease of the same name`},
		{"unknown lock kind", newLockErr(ll.Options{LeaderElectionResourceLock: "lease"}),
			`fake: unknown lock kind "lease"; the only supported kind is "leases"`},
		{"invalid ID", newLockErr(ll.Options{LeaderElectionID: "Not_A_Name"}),
			`fake: LeaderElectionID "Not_A_Name" is not a valid object name: ` + notSubdomain},
		{"invalid namespace", newLockErr(ll.Options{LeaderElectionNamespace: "a.b"}),
			`fake: LeaderElectionNamespace "a.b" is not a valid namespace name: must not contain dots`},
		{"negative RenewDeadline", newLockErr(ll.Options{RenewDeadline: -time.Second}),
			"fake: RenewDeadline (-1s) must not be negative"},
		{"FailNext unknown verb", lock.FailNext("patch", 1, errors.New("x")), `fake: FailNext: unknown verb "patch"; use VerbGet, VerbCreate or VerbUpdate`},
		{"FailNext negative count", lock.FailNext(fake.VerbGet, -1, errors.New("x")), "fake: FailNext: count (-1) must not be negative"},
		{"FailNext nil error", lock.FailNext(fake.VerbGet, 1, nil), "fake: FailNext: err must not be nil"},
		{"Delay unknown verb", lock.Delay("", time.Second, 0), `fake: Delay: unknown verb ""; use VerbGet, VerbCreate or VerbUpdate`},
		{"Delay negative request", lock.Delay(fake.VerbUpdate, -time.Second, 0), "fake: Delay: request (-1s) and response (0s) latency must not be negative"},
		{"Delay negative response", lock.Delay(fake.VerbUpdate, 0, -time.Millisecond), "fake: Delay: request (0s) and response (-1ms) latency must not be negative"},
		{"Steal empty identity", lease.Steal(""), "fake: Steal: identity must not be empty"},
		{"Steal missing lease", lease.Steal("b"), `leases.coordination.k8s.io "bad-input" not found`},
		{"Expire missing lease", lease.Expire(), `leases.coordination.k8s.io "bad-input" not found`},
		{"Delete missing lease", lease.Delete(), `leases.coordination.k8s.io "bad-input" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil || tt.err.Error() != tt.want {
				t.Fatalf("error = %v, want %q", tt.err, tt.want)
			}
		})
	}

	panics := []struct {
		name string
		f    func()
		want string // the whole message
	}{
		{"empty identity", func() { lease.Lock("") }, "fake: Lease.Lock: identity must not be empty"},
		{"invalid lease name", func() { fake.NewLease(namespace, "UPPER") }, `fake: NewLease: name "UPPER" is not a valid object name: ` + notSubdomain},
		{"empty namespace", func() { fake.NewLease("", "x") }, `fake: NewLease: namespace must not be empty`},
		{"invalid namespace", func() { fake.NewLease("a.b", "x") }, `fake: NewLease: namespace "a.b" is not a valid namespace name: must not contain dots`},
	}
	for _, tt := range panics {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r, _ := recover().(string); r != tt.want {
					t.Fatalf("panic = %q, want %q", r, tt.want)
				}
			}()
			tt.f()
		})
	}
}

func newLockErr(o ll.Options) error {
	_, err := fake.NewResourceLock(nil, nil, o)
	return err
}

func TestBlockLeaderElection(t *testing.T) {
	lock := newFakeLock(t, ll.Options{Identity: "a"})
	rec, _, _ := lock.Get(ctx)
	lock.BlockLeaderElection()
	if err := lock.Update(ctx, *rec); !errors.Is(err, fake.ErrBlocked) {
		t.Fatalf("Update while blocked = %v", err)
	}
	if err := lock.Create(ctx, *rec); !errors.Is(err, fake.ErrBlocked) {
		t.Fatalf("Create while blocked = %v", err)
	}
	if _, _, err := lock.Get(ctx); err != nil {
		t.Fatalf("Get while blocked = %v, want reads to pass", err)
	}
	lock.UnblockLeaderElection()
	if err := lock.Update(ctx, *rec); err != nil {
		t.Fatalf("Update after unblock = %v", err)
	}
}

func TestFailNext(t *testing.T) {
	lock := newFakeLock(t, ll.Options{Identity: "a"})
	unavailable := apierrors.NewServiceUnavailable("etcd is down")
	if err := lock.FailNext(fake.VerbGet, 2, unavailable); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, _, err := lock.Get(ctx); !apierrors.IsServiceUnavailable(err) {
			t.Fatalf("get %d = %v, want the injected error", i, err)
		}
	}
	rec, _, err := lock.Get(ctx)
	if err != nil {
		t.Fatalf("third get = %v", err)
	}
	version := lock.Lease().State().ResourceVersion
	if err := lock.FailNext(fake.VerbUpdate, 1, unavailable); err != nil {
		t.Fatal(err)
	}
	if err := lock.Update(ctx, *rec); !apierrors.IsServiceUnavailable(err) {
		t.Fatalf("update = %v, want the injected error", err)
	}
	if got := lock.Lease().State().ResourceVersion; got != version {
		t.Fatalf("a rejected update changed the lease (%s -> %s)", version, got)
	}
	// n == 0 cancels what is left.
	_ = lock.FailNext(fake.VerbUpdate, 5, unavailable)
	_ = lock.FailNext(fake.VerbUpdate, 0, nil)
	if err := lock.Update(ctx, *rec); err != nil {
		t.Fatalf("update after cancelling = %v", err)
	}
}

// TestDelay checks both legs in virtual time, and what a cancelled context
// leaves behind on each.
func TestDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lock := newFakeLock(t, ll.Options{Identity: "a"})
		lease := lock.Lease()
		if err := lock.Delay(fake.VerbGet, 2*time.Second, time.Second); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		rec, _, err := lock.Get(ctx)
		if err != nil || time.Since(start) != 3*time.Second {
			t.Fatalf("Get = %v after %v, want success after 3s", err, time.Since(start))
		}
		_ = lock.Delay(fake.VerbGet, 0, 0)

		// Cancelled during the request leg: returns at the cancel, nothing lands.
		_ = lock.Delay(fake.VerbUpdate, 2*time.Second, 0)
		before := lease.State().ResourceVersion
		cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		start = time.Now()
		err = lock.Update(cctx, *rec)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 500*time.Millisecond {
			t.Fatalf("Update = %v after %v, want DeadlineExceeded after 500ms", err, time.Since(start))
		}
		if got := lease.State().ResourceVersion; got != before {
			t.Fatal("an update cancelled before it arrived changed the lease")
		}

		// Cancelled during the response leg: the write has landed, but the lock
		// did not learn its version, so its next update conflicts.
		_ = lock.Delay(fake.VerbUpdate, 0, 2*time.Second)
		stolen := *rec
		stolen.LeaderTransitions = 42
		cctx, cancel = context.WithTimeout(ctx, 500*time.Millisecond)
		err = lock.Update(cctx, stolen)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Update = %v, want DeadlineExceeded", err)
		}
		if got := lease.State(); got.ResourceVersion == before || got.Record.LeaderTransitions != 42 {
			t.Fatalf("state = %+v, want the cancelled update landed", got)
		}
		_ = lock.Delay(fake.VerbUpdate, 0, 0)
		if err := lock.Update(ctx, *rec); !apierrors.IsConflict(err) {
			t.Fatalf("next Update = %v, want Conflict", err)
		}

		// A context that is already done never reaches the lease.
		done, cancel := context.WithCancel(ctx)
		cancel()
		if _, _, err := lock.Get(done); !errors.Is(err, context.Canceled) {
			t.Fatalf("Get on a done context = %v", err)
		}
	})
}

func TestInterceptors(t *testing.T) {
	lease := fake.NewLease(namespace, "intercepted")
	lock := lease.Lock("a")
	var gets int
	lock.Intercept(fake.Funcs{
		// A Get that always reports a foreign holder.
		Get: func(ctx context.Context, next resourcelock.Interface) (*resourcelock.LeaderElectionRecord, []byte, error) {
			gets++
			rec, raw, err := next.Get(ctx)
			if err == nil {
				rec.HolderIdentity = "ghost"
			}
			return rec, raw, err
		},
		// An Update whose response is lost after it landed.
		Update: func(ctx context.Context, next resourcelock.Interface, rec resourcelock.LeaderElectionRecord) error {
			if err := next.Update(ctx, rec); err != nil {
				return err
			}
			return apierrors.NewTimeoutError("response lost", 1)
		},
	})
	if err := lock.Create(ctx, record("a", 0)); err != nil {
		t.Fatalf("Create (no interceptor) = %v", err)
	}
	rec, _, err := lock.Get(ctx)
	if err != nil || rec.HolderIdentity != "ghost" || gets != 1 {
		t.Fatalf("intercepted Get = %+v, %v", rec, err)
	}
	if err := lock.Update(ctx, record("a", 7)); !apierrors.IsTimeout(err) {
		t.Fatalf("intercepted Update = %v", err)
	}
	if got := lease.State().Record.LeaderTransitions; got != 7 {
		t.Fatalf("transitions = %d, want the intercepted update to have landed", got)
	}
	lock.Intercept(fake.Funcs{})
	if err := lock.Update(ctx, record("a", 8)); !apierrors.IsConflict(err) {
		t.Fatalf("Update after a lost response = %v, want Conflict", err)
	}
	// An injected failure is decided before the interceptor runs.
	lock.Intercept(fake.Funcs{Get: func(context.Context, resourcelock.Interface) (*resourcelock.LeaderElectionRecord, []byte, error) {
		t.Error("interceptor ran for a rejected call")
		return nil, nil, nil
	}})
	_ = lock.FailNext(fake.VerbGet, 1, errors.New("rejected"))
	if _, _, err := lock.Get(ctx); err == nil || err.Error() != "rejected" {
		t.Fatalf("Get = %v, want rejected", err)
	}
}

func TestCallLogAndHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lease := fake.NewLease(namespace, "logged")
		a, b := lease.Lock("a"), lease.Lock("b")
		_, _, _ = a.Get(ctx)
		_ = a.Create(ctx, record("a", 0))
		time.Sleep(time.Second)
		_, _, _ = b.Get(ctx)
		if err := lease.Steal("c"); err != nil {
			t.Fatal(err)
		}
		_ = b.Update(ctx, record("b", 1)) // conflict: c wrote since b read
		_, _, _ = b.Get(ctx)
		_ = b.Update(ctx, record("", 2)) // release
		_ = lease.Delete()

		calls := lease.Calls()
		type row struct {
			verb         fake.Verb
			id, rv, err  string
			sinceStartMs int64
		}
		var got []row
		t0 := calls[0].Start
		for _, c := range calls {
			e := ""
			switch {
			case apierrors.IsNotFound(c.Err):
				e = "NotFound"
			case apierrors.IsConflict(c.Err):
				e = "Conflict"
			case c.Err != nil:
				e = c.Err.Error()
			}
			got = append(got, row{c.Verb, c.Identity, c.ResourceVersion, e, c.Start.Sub(t0).Milliseconds()})
		}
		want := []row{
			{fake.VerbGet, "a", "", "NotFound", 0},
			{fake.VerbCreate, "a", "1", "", 0},
			{fake.VerbGet, "b", "1", "", 1000},
			{fake.VerbUpdate, "b", "", "Conflict", 1000},
			{fake.VerbGet, "b", "2", "", 1000},
			{fake.VerbUpdate, "b", "3", "", 1000},
		}
		if !slices.Equal(got, want) {
			t.Fatalf("calls =\n%v\nwant\n%v", got, want)
		}
		if calls[2].Record.HolderIdentity != "a" {
			t.Fatalf("logged Get record = %+v, want the record read", calls[2].Record)
		}

		var holders []string
		for _, h := range lease.History() {
			holders = append(holders, h.Holder+"/"+h.Writer)
		}
		if strings.Join(holders, " ") != "a/a c/ /b /" {
			t.Fatalf("history (holder/writer) = %q", holders)
		}
	})
}

func TestExpire(t *testing.T) {
	lock := newFakeLock(t, ll.Options{Identity: "a"})
	before := lock.Lease().State()
	if err := lock.Lease().Expire(); err != nil {
		t.Fatal(err)
	}
	after := lock.Lease().State()
	if after.Record.HolderIdentity != "a" || after.Record.LeaseDurationSeconds != 0 || after.ResourceVersion == before.ResourceVersion {
		t.Fatalf("after Expire: %+v", after)
	}
}

// pair runs real electors "a" (which takes the lease first) and "b" on lease
// in a synctest bubble. At 10.25 s (between two of a's renews) it calls
// disrupt, then runs 30 s more and returns when each candidate started and
// stopped leading, relative to the disruption.
func pair(t *testing.T, lease *fake.Lease, disrupt func(a *fake.Lock)) (started, stopped map[string]time.Duration) {
	var mu sync.Mutex
	started, stopped = map[string]time.Duration{}, map[string]time.Duration{}
	var disruptedAt time.Time
	note := func(m map[string]time.Duration, id string) {
		mu.Lock()
		defer mu.Unlock()
		m[id] = time.Since(disruptedAt)
	}
	ctx, cancel := context.WithCancel(klog.NewContext(t.Context(), logr.Discard()))
	var wg sync.WaitGroup
	run := func(lock *fake.Lock) {
		el, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: lock, LeaseDuration: ld, RenewDeadline: rd, RetryPeriod: rp,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					note(started, lock.Identity())
					<-ctx.Done()
					note(stopped, lock.Identity())
				},
				OnStoppedLeading: func() {},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { el.Run(ctx) })
	}
	a := lease.Lock("a")
	run(a)
	synctest.Wait() // a creates the lease and leads
	run(lease.Lock("b"))
	time.Sleep(10*time.Second + rp/2)
	mu.Lock()
	disruptedAt = time.Now()
	mu.Unlock()
	disrupt(a)
	time.Sleep(30 * time.Second)
	cancel()
	wg.Wait()
	synctest.Wait()
	return started, stopped
}

// TestElectorAfterSteal: a real elector loses leadership after a steal within
// RetryPeriod + RenewDeadline (its next renew conflicts, and it keeps trying
// until its renew deadline), and the follower takes over only once the
// intruder's lease has run out.
func TestElectorAfterSteal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lease := fake.NewLease(namespace, "stolen")
		started, stopped := pair(t, lease, func(*fake.Lock) {
			if err := lease.Steal("intruder"); err != nil {
				t.Fatal(err)
			}
		})
		if lost := stopped["a"]; lost <= 0 || lost > rp+rd {
			t.Fatalf("a stopped %v after the steal, want within (0, %v]", lost, rp+rd)
		}
		if took := started["b"]; took < ld {
			t.Fatalf("b took over %v after the steal, before the intruder's lease (%v) ran out", took, ld)
		}
		if got := holders(lease); got != "a intruder b" {
			t.Fatalf("holders = %q", got)
		}
	})
}

// TestElectorAfterExpire: with the holder unable to write, Expire lets the
// follower take over at its next poll (within 2.2 RetryPeriod) instead of a
// LeaseDuration later. The old holder still acts until its renew deadline
// passes: Expire is how a test provokes that overlap on purpose.
func TestElectorAfterExpire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lease := fake.NewLease(namespace, "expired")
		started, stopped := pair(t, lease, func(a *fake.Lock) {
			a.BlockLeaderElection()
			if err := lease.Expire(); err != nil {
				t.Fatal(err)
			}
		})
		if took := started["b"]; took <= 0 || took > 2*rp+rp/5 {
			t.Fatalf("b took over %v after the expiry, want within (0, %v]", took, 2*rp+rp/5)
		}
		if lost := stopped["a"]; lost <= 0 || lost > rp+rd {
			t.Fatalf("a stopped %v after the expiry, want within (0, %v]", lost, rp+rd)
		}
		if got := holders(lease); got != "a b" {
			t.Fatalf("holders = %q", got)
		}
	})
}

func holders(lease *fake.Lease) string {
	var ids []string
	for _, h := range lease.History() {
		ids = append(ids, h.Holder)
	}
	return strings.Join(ids, " ")
}

// TestConcurrentUse runs locks, harness methods and observers on one lease at
// once; -race checks the locking, the versions check the outcome.
func TestConcurrentUse(t *testing.T) {
	lease := fake.NewLease(namespace, "busy")
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for _, id := range []string{"a", "b", "c", "d"} {
		lock := lease.Lock(id)
		wg.Go(func() {
			for range 200 {
				if _, _, err := lock.Get(ctx); apierrors.IsNotFound(err) {
					_ = lock.Create(ctx, record(id, 0))
					continue
				}
				if lock.Update(ctx, record(id, 0)) == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			}
		})
	}
	steals := 0
	wg.Go(func() {
		for range 100 {
			if lease.Steal("intruder") == nil {
				steals++
			}
			_ = lease.State()
			_ = lease.History()
			_ = lease.Calls()
		}
	})
	wg.Wait()
	// Every successful create, update and steal bumped the version once.
	creates := 0
	for _, c := range lease.Calls() {
		if c.Verb == fake.VerbCreate && c.Err == nil {
			creates++
		}
	}
	if want := strconv.Itoa(creates + wins + steals); creates != 1 || lease.State().ResourceVersion != want {
		t.Fatalf("version = %s after %d creates, %d updates, %d steals; want one create and version %s",
			lease.State().ResourceVersion, creates, wins, steals, want)
	}
}
