package apiserver_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/streaming"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	restclientwatch "k8s.io/client-go/rest/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/leaderlab/leaderlab/fake/apiserver"
)

const (
	benchWatchers = 3
	benchObjects  = 1000
	benchUpdates  = 10000
	benchBatch    = 1000 // updates per timed batch
)

// BenchmarkWatch: informers on a busy resource. Three informers
// watch 1,000 ConfigMaps (protobuf, as client-go's typed clients ask) while
// 10,000 updates are written to them. In the same server 1,000 ConfigMaps of
// another namespace get the same updates with no one watching them. The
// updates go in batches of 1,000, unwatched and watched in turn, each watched
// batch timed until every informer has seen it; "us/event" is the watched
// batches' time less the unwatched ones', over the 30,000 deliveries to the
// informers' handlers: the wall cost of delivering one watch event, without
// the writer's. Its floor is client-go decoding that event from its bytes
// (BenchmarkWatchDecodeFloor), 3,000 times after each pair of batches:
// "x-floor" is the ratio. A pair and its floor run within a few hundred
// milliseconds, so a slow spell of a shared machine falls on all three.
func BenchmarkWatch(b *testing.B) {
	var watched, unwatched, floor time.Duration
	decode := watchDecodeFloor(b)
	for b.Loop() {
		w, u, f := writeUpdates(b, decode)
		watched, unwatched, floor = watched+w, unwatched+u, floor+f
	}
	b.ReportMetric(float64((watched-unwatched).Nanoseconds())/float64(b.N*benchWatchers*benchUpdates)/1000, "us/event")
	b.ReportMetric(float64(unwatched.Nanoseconds())/float64(b.N*benchUpdates)/1000, "us/update")
	b.ReportMetric(float64(watched-unwatched)/float64(floor), "x-floor")
}

// writeUpdates writes benchUpdates updates to the watched ConfigMaps, with
// benchWatchers informers synced on them, and as many to the unwatched ones,
// in alternating batches. It returns the time the watched batches took until
// every informer had seen every update, the time the unwatched batches took,
// and the time the floor took for as many events as were delivered.
func writeUpdates(b *testing.B, decode func()) (watched, unwatched, floor time.Duration) {
	objs := make([]k8sruntime.Object, 0, 2*benchObjects)
	for _, ns := range []string{"default", "quiet"} {
		for i := range benchObjects {
			objs = append(objs, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%04d", i), Namespace: ns}, Data: map[string]string{"v": "0"}})
		}
	}
	quiet := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "quiet"}}
	srv := newServer(b, apiserver.WithObjects(append([]k8sruntime.Object{quiet}, objs...)...))
	cs := kubernetes.NewForConfigOrDie(srv.Config())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var delivered atomic.Int64
	var want atomic.Int64          // deliveries when the batch is seen
	seen := make(chan struct{}, 1) // the informers have seen the batch
	var factories []informers.SharedInformerFactory
	for range benchWatchers {
		f := informers.NewSharedInformerFactoryWithOptions(kubernetes.NewForConfigOrDie(srv.Config()), 0, informers.WithNamespace("default"))
		inf := f.Core().V1().ConfigMaps().Informer()
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{UpdateFunc: func(_, _ any) {
			if delivered.Add(1) == want.Load() {
				seen <- struct{}{}
			}
		}})
		f.Start(ctx.Done())
		cache.WaitForCacheSync(ctx.Done(), inf.HasSynced)
		factories = append(factories, f)
	}
	write := func(ns string, from int) {
		for i := from; i < from+benchBatch; i++ {
			cm := objs[i%benchObjects].(*corev1.ConfigMap).DeepCopy()
			cm.Namespace, cm.ResourceVersion, cm.Data["v"] = ns, "", fmt.Sprint(i+1)
			if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	for from := 0; from < benchUpdates; from += benchBatch {
		start := time.Now()
		write("quiet", from)
		unwatched += time.Since(start)

		want.Store(int64(benchWatchers * (from + benchBatch)))
		start = time.Now()
		write("default", from)
		select {
		case <-seen:
		case <-time.After(time.Minute):
			b.Fatalf("informers saw %d of %d updates within a minute", delivered.Load(), want.Load())
		}
		watched += time.Since(start)

		start = time.Now()
		for range benchWatchers * benchBatch {
			decode()
		}
		floor += time.Since(start)
	}
	cancel()
	for _, f := range factories {
		f.Shutdown()
	}
	return watched, unwatched, floor
}

// BenchmarkWatchDecodeFloor is the floor of BenchmarkWatch: what
// client-go itself spends to decode one watch event of a ConfigMap from its
// protobuf frame, with the decoder its watches use.
func BenchmarkWatchDecodeFloor(b *testing.B) {
	decode := watchDecodeFloor(b)
	for b.Loop() {
		decode()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "us/event")
}

// watchDecodeFloor returns the floor's work: decoding one framed protobuf
// watch event, as client-go's watch decoder does. The frame is the one the
// server sends the benchmark's informers for an update (managed fields
// included): a ConfigMap updated through a typed client, read off a watch.
func watchDecodeFloor(b *testing.B) func() {
	one := updateFrame(b)
	info, _ := k8sruntime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), k8sruntime.ContentTypeProtobuf)
	embedded := scheme.Codecs.UniversalDeserializer()
	return func() {
		r := streaming.NewDecoder(info.StreamSerializer.Framer.NewFrameReader(nopCloser{bytes.NewReader(one)}), info.StreamSerializer.Serializer)
		d := restclientwatch.NewDecoder(r, embedded)
		if typ, obj, err := d.Decode(); err != nil || typ != watch.Modified {
			b.Fatalf("decoded %s %T, %v", typ, obj, err)
		}
	}
}

// updateFrame is the server's watch frame of one ConfigMap update: its
// length prefix and the protobuf event.
func updateFrame(b *testing.B) []byte {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm-0001", Namespace: "default"}, Data: map[string]string{"v": "0"}}
	srv := newServer(b, apiserver.WithObjects(cm))
	cms := kubernetes.NewForConfigOrDie(srv.Config()).CoreV1().ConfigMaps("default")
	ctx := context.Background()
	stored, err := cms.Get(ctx, cm.Name, metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	stored.Data["v"] = "1"
	if _, err := cms.Update(ctx, stored, metav1.UpdateOptions{}); err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.Config().Host+"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion="+stored.ResourceVersion, nil)
	req.Header.Set("Accept", k8sruntime.ContentTypeProtobuf+";stream=watch")
	resp, err := srv.Config().Transport.RoundTrip(req)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var size [4]byte
	if _, err := io.ReadFull(resp.Body, size[:]); err != nil {
		b.Fatal(err)
	}
	frame := make([]byte, 4+binary.BigEndian.Uint32(size[:]))
	copy(frame, size[:])
	if _, err := io.ReadFull(resp.Body, frame[4:]); err != nil {
		b.Fatal(err)
	}
	return frame
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
