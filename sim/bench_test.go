package sim_test

// Benchmarks are measurements, not assertions. testing/synctest.Test takes
// only a *testing.T, so each benchmark iteration runs its bubble through
// asTest (testing.RunTests), which hands it a real *testing.T.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	nethttp "net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/leaderlab/leaderlab/examples/operator"
	"github.com/leaderlab/leaderlab/examples/widget"
	widgetv1 "github.com/leaderlab/leaderlab/examples/widget/api/v1"
	"github.com/leaderlab/leaderlab/internal/gotest"
	lab "github.com/leaderlab/leaderlab/leaderelection"
	"github.com/leaderlab/leaderlab/sim"
)

// 3 candidates, default timing, no faults, the full REST path, 1 virtual hour.
// After each run, with the timer stopped, two floors run on the same
// requests under the same load: client-go's bare request loop
// (BenchmarkClientGoFloor), and the same three electors in a bubble with
// nothing simulated (bubbleFloor). "x-floor" is the simulator's cost per
// request over the first, "x-bubble-floor" over the second, and
// "bubble-floor-x-floor" the second over the first: what client-go's electors
// and synctest cost before the simulator does anything.
func BenchmarkSteadyStateHour(b *testing.B) {
	var requests, bubbleRequests int
	var floor, bubble time.Duration
	floorRequest := clientGoFloor(b)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for b.Loop() {
		n := 0
		ok := asTest(func(t *testing.T) {
			rep := sim.Test(t, sim.Options{Seed: 1, Candidates: 3}, func(c *sim.Cluster) { c.Advance(time.Hour) })
			n = rep.Requests.Total
		})
		if !ok {
			b.Fatal("run failed")
		}
		requests += n
		b.StopTimer()
		var f0, f1 runtime.MemStats
		runtime.ReadMemStats(&f0)
		start := time.Now()
		for i := range n {
			floorRequest(i)
		}
		floor += time.Since(start)
		start = time.Now()
		bubbleRequests += bubbleFloor(b)
		bubble += time.Since(start)
		runtime.ReadMemStats(&f1)
		m0.Mallocs += f1.Mallocs - f0.Mallocs // count the simulator's only
		b.StartTimer()
	}
	runtime.ReadMemStats(&m1)
	perRun := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	perRequest := float64(b.Elapsed()) / float64(requests)
	floorPerRequest := float64(floor) / float64(requests)
	bubblePerRequest := float64(bubble) / float64(bubbleRequests)
	b.ReportMetric(perRun/3600, "ns/virtual-s")
	b.ReportMetric(3600e9/perRun, "x-realtime")
	b.ReportMetric(perRequest/1e3, "us/request")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(requests), "allocs/request")
	b.ReportMetric(float64(requests)/float64(b.N), "requests/run")
	b.ReportMetric(perRequest/floorPerRequest, "x-floor")
	b.ReportMetric(perRequest/bubblePerRequest, "x-bubble-floor")
	b.ReportMetric(bubblePerRequest/floorPerRequest, "bubble-floor-x-floor")
}

// bubbleFloor runs the steady state's electors with nothing simulated: three
// client-go LeaderElectors on leaderlab's lock, default timing, one virtual
// hour in a synctest bubble, against a transport that keeps one lease in
// memory and answers each request after two 1 ms sleeps, its two legs. No
// server, network loop, fault rules, trace or report: what client-go and
// synctest cost for the steady state's requests. It returns how many requests
// it answered.
func bubbleFloor(b *testing.B) int {
	n := 0
	ok := asTest(func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			held := &heldLease{lease: encodeLease(t, "c0", time.Now())}
			ctx, cancel := context.WithTimeout(klog.NewContext(context.Background(), logr.Discard()), time.Hour)
			defer cancel()
			var wg sync.WaitGroup
			for i := range 3 {
				id := fmt.Sprintf("c%d", i)
				lock, err := lab.NewResourceLock(floorConfig(id, held), nil, lab.Options{
					LeaderElection: true, LeaderElectionID: sim.DefaultLeaseName, LeaderElectionNamespace: sim.DefaultNamespace,
					RenewDeadline: sim.DefaultRenewDeadline, Identity: id,
				})
				if err != nil {
					t.Fatal(err)
				}
				le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
					Lock: lock, LeaseDuration: sim.DefaultLeaseDuration, RenewDeadline: sim.DefaultRenewDeadline, RetryPeriod: sim.DefaultRetryPeriod,
					Callbacks: leaderelection.LeaderCallbacks{OnStartedLeading: func(context.Context) {}, OnStoppedLeading: func() {}},
				})
				if err != nil {
					t.Fatal(err)
				}
				wg.Go(func() { le.Run(ctx) })
			}
			wg.Wait()
			n = held.requests
		})
	})
	if !ok {
		b.Fatal("bubble floor failed")
	}
	return n
}

// heldLease is the bubble floor's server: one lease, stored as the protobuf
// bytes of the last update and answered to every request after two 1 ms legs.
type heldLease struct {
	mu       sync.Mutex
	lease    []byte
	requests int
}

func (h *heldLease) RoundTrip(req *nethttp.Request) (*nethttp.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
	}
	time.Sleep(time.Millisecond)
	h.mu.Lock()
	h.requests++
	if req.Method == nethttp.MethodPut {
		h.lease = body
	}
	answer := h.lease
	h.mu.Unlock()
	time.Sleep(time.Millisecond)
	return protobufResponse(req, answer), nil
}

// 1,000 seeds of a crash failover, run as parallel bubbles (replay is not
// needed for a distribution; each report says so).
func BenchmarkCrashFailover1000Seeds(b *testing.B) {
	for b.Loop() {
		var failovers atomic.Int64
		ok := asTest(func(t *testing.T) {
			for seed := range int64(1000) {
				t.Run("seed", func(t *testing.T) {
					t.Parallel()
					rep := sim.Test(t, sim.Options{Seed: seed, Candidates: 3}, func(c *sim.Cluster) {
						c.Crash(c.AwaitLeader(ld))
						c.AwaitLeader(ld + 5*rp + 2*rt)
					})
					failovers.Add(int64(len(rep.Failovers)))
				})
			}
		})
		if !ok || failovers.Load() != 1000 {
			b.Fatalf("ok=%v failovers=%d", ok, failovers.Load())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/1000-seeds")
}

// 1,000 candidates for 10 virtual minutes: wall time and peak heap.
func BenchmarkThousandCandidates10Min(b *testing.B) {
	peak, stop := gotest.WatchPeakHeap()
	for b.Loop() {
		if !asTest(func(t *testing.T) {
			rep := sim.Test(t, sim.Options{Seed: 1, Candidates: 1000}, func(c *sim.Cluster) { c.Advance(10 * time.Minute) })
			if len(rep.Terms) != 1 {
				t.Errorf("terms = %d", len(rep.Terms))
			}
		}) {
			b.Fatal("run failed")
		}
	}
	stop()
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/run")
	b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MiB")
}

// The floor under BenchmarkSteadyStateHour: client-go's own cost per request.
// The same rest.Config a simulated candidate gets (QPS -1, protobuf) and the
// same lease lock from leaderelection.NewResourceLock (so the same client
// timeout), alternating Get and Update as a leader's renew loop does, against
// a RoundTripper that answers at once with a canned protobuf Lease: no
// simulator, no latency, no goroutine switch. One op is one request.
func BenchmarkClientGoFloor(b *testing.B) {
	request := clientGoFloor(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		request(i)
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i)/1e3, "us/request")
}

// clientGoFloor returns the floor's request: the i-th request of a renew loop.
func clientGoFloor(b *testing.B) func(i int) {
	lock, err := lab.NewResourceLock(floorConfig("c0", cannedLease(encodeLease(b, "c0", time.Unix(0, 0)))), nil, lab.Options{
		LeaderElection: true, LeaderElectionID: sim.DefaultLeaseName, LeaderElectionNamespace: sim.DefaultNamespace,
		RenewDeadline: sim.DefaultRenewDeadline, Identity: "c0",
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	record := resourcelock.LeaderElectionRecord{HolderIdentity: "c0", LeaseDurationSeconds: 15,
		AcquireTime: metav1.NewTime(time.Unix(0, 0)), RenewTime: metav1.NewTime(time.Unix(1, 0))}
	return func(i int) {
		var err error
		if i%2 == 0 {
			_, _, err = lock.Get(ctx)
		} else {
			err = lock.Update(ctx, record)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// floorConfig is a floor's rest config: the simulator's (protobuf, no
// client-side rate limit) on transport rt.
func floorConfig(id string, rt nethttp.RoundTripper) *rest.Config {
	return &rest.Config{
		Host:      "http://" + id + ".sim",
		Transport: rt,
		QPS:       -1,
		ContentConfig: rest.ContentConfig{
			ContentType:        k8sruntime.ContentTypeProtobuf,
			AcceptContentTypes: k8sruntime.ContentTypeProtobuf + "," + k8sruntime.ContentTypeJSON,
		},
	}
}

// encodeLease is the default lease held by holder since at, in protobuf.
func encodeLease(tb testing.TB, holder string, at time.Time) []byte {
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: sim.DefaultLeaseName, Namespace: sim.DefaultNamespace, ResourceVersion: "7", UID: "uid-1"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder), LeaseDurationSeconds: ptr.To[int32](15),
			AcquireTime: &metav1.MicroTime{Time: at}, RenewTime: &metav1.MicroTime{Time: at}, LeaseTransitions: ptr.To[int32](0)},
	}
	info, _ := k8sruntime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), k8sruntime.ContentTypeProtobuf)
	encoded, err := k8sruntime.Encode(scheme.Codecs.EncoderForVersion(info.Serializer, coordinationv1.SchemeGroupVersion), lease)
	if err != nil {
		tb.Fatal(err)
	}
	return encoded
}

// cannedLease answers every request at once with the same protobuf Lease.
type cannedLease []byte

func (c cannedLease) RoundTrip(req *nethttp.Request) (*nethttp.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	return protobufResponse(req, c), nil
}

// protobufResponse is a 200 answer to req with body, a protobuf object.
func protobufResponse(req *nethttp.Request, body []byte) *nethttp.Response {
	return &nethttp.Response{
		Status:        "200 OK",
		StatusCode:    nethttp.StatusOK,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        nethttp.Header{"Content-Type": {k8sruntime.ContentTypeProtobuf}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// 3 controller-runtime managers with one reconciler each (the examples'
// mirror operator), 10 virtual minutes, one outside write per minute.
func BenchmarkManagers3TenMinutes(b *testing.B) { benchManagers(b, 3) }

// 20 such managers for 10 virtual minutes: wall time and peak heap.
func BenchmarkManagers20TenMinutes(b *testing.B) { benchManagers(b, 20) }

func benchManagers(b *testing.B, candidates int) {
	peak, stop := gotest.WatchPeakHeap()
	var requests int
	for b.Loop() {
		ok := asTest(func(t *testing.T) {
			rep := sim.Test(t, sim.Options{Seed: 1, Candidates: candidates, Run: sim.Manager(operator.Mirror{Guarded: true}.Setup)}, func(c *sim.Cluster) {
				for i := range 10 {
					if err := operator.Change(c, i); err != nil {
						t.Fatal(err)
					}
					c.Advance(time.Minute)
				}
				if !operator.Mirrored(c) {
					t.Error("the operator did not mirror the last change")
				}
			})
			requests += rep.Requests.Total
		})
		if !ok {
			b.Fatal("run failed")
		}
	}
	stop()
	perRun := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(600e9/perRun, "x-realtime")
	b.ReportMetric(perRun/1e6, "ms/run")
	b.ReportMetric(float64(requests)/float64(b.N), "requests/run")
	b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MiB")
}

// The floor under the simulator's own share: testing/synctest's cost of one
// virtual time step with one goroutine hand-off each way, as a request's leg
// takes (a goroutine sleeps, then answers another over a channel). A
// simulated request takes at least two such steps, one per leg.
func BenchmarkBubbleStep(b *testing.B) {
	n := b.N
	b.ResetTimer()
	if !asTest(func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			req, rep := make(chan int), make(chan int)
			go func() {
				for v := range req {
					time.Sleep(time.Millisecond)
					rep <- v
				}
			}()
			for i := range n {
				req <- i
				<-rep
			}
			close(req)
		})
	}) {
		b.Fatal("run failed")
	}
}

// Three managers of a custom-resource operator (examples/widget: a CRD with
// defaults, a CEL rule and a status subresource, a finalizer, an owned
// ConfigMap, status conditions) for 10 virtual minutes, the Widget changed
// every minute: wall time against virtual time, with the CRD's rules
// applied to every write.
func BenchmarkManagers3CustomResource(b *testing.B) {
	s := k8sruntime.NewScheme()
	if err := scheme.AddToScheme(s); err != nil {
		b.Fatal(err)
	}
	if err := widgetv1.AddToScheme(s); err != nil {
		b.Fatal(err)
	}
	crds := []string{"../examples/widget/config/crd/bases"}
	var requests int
	for b.Loop() {
		ok := asTest(func(t *testing.T) {
			rep := sim.Test(t, sim.Options{Seed: 1, Candidates: 3, Run: sim.Manager(widget.Setup), Scheme: s, CRDPaths: crds}, func(c *sim.Cluster) {
				ctx := context.Background()
				w := &widgetv1.Widget{ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: "default"}}
				if err := c.Client().Create(ctx, w); err != nil {
					t.Fatal(err)
				}
				for i := range 10 {
					c.Advance(time.Minute)
					patch := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, i%10+1))
					if err := c.Client().Patch(ctx, w, patch); err != nil {
						t.Fatal(err)
					}
				}
				c.Advance(time.Minute)
				var cm corev1.ConfigMap
				if err := c.Client().Get(ctx, widget.ConfigMapOf(client.ObjectKeyFromObject(w)), &cm); err != nil || cm.Data["replicas"] != "10" {
					t.Errorf("the operator did not reconcile the last change: %v %v", cm.Data, err)
				}
			})
			requests += rep.Requests.Total
		})
		if !ok {
			b.Fatal("run failed")
		}
	}
	perRun := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(660e9/perRun, "x-realtime")
	b.ReportMetric(perRun/1e6, "ms/run")
	b.ReportMetric(float64(requests)/float64(b.N), "requests/run")
}
