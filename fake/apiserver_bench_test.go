package fake_test

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/streaming"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	restclientwatch "k8s.io/client-go/rest/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/leaderlab/leaderlab/fake"
)

const (
	benchWatchers = 3
	benchObjects  = 1000
	benchUpdates  = 10000
)

// BenchmarkAPIServerWatch: informers on a busy resource. Three informers
// watch 1,000 ConfigMaps (protobuf, as client-go's typed clients ask) while
// 10,000 updates are written. The same updates are written once more with
// no one watching, in the same iteration, and "us/event" is the difference
// over the 30,000 deliveries to the informers' handlers: the wall cost of
// delivering one watch event, without the writer's. Its floor, measured on
// its own, is client-go decoding that event from its bytes
// (BenchmarkWatchDecodeFloor).
func BenchmarkAPIServerWatch(b *testing.B) {
	var watched, unwatched time.Duration
	for b.Loop() {
		unwatched += writeUpdates(b, 0)
		watched += writeUpdates(b, benchWatchers)
	}
	b.ReportMetric(float64((watched-unwatched).Nanoseconds())/float64(b.N*benchWatchers*benchUpdates)/1000, "us/event")
	b.ReportMetric(float64(unwatched.Nanoseconds())/float64(b.N*benchUpdates)/1000, "us/update")
}

// writeUpdates writes benchUpdates updates to 1,000 ConfigMaps with
// watchers informers synced on them, and returns the time from the first
// write until every informer has seen every update.
func writeUpdates(b *testing.B, watchers int) time.Duration {
	objs := make([]runtime.Object, benchObjects)
	for i := range objs {
		objs[i] = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%04d", i), Namespace: "default"}, Data: map[string]string{"v": "0"}}
	}
	srv := fake.NewAPIServer(fake.WithObjects(objs...))
	cs := kubernetes.NewForConfigOrDie(srv.Config())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var delivered atomic.Int64
	done := make(chan struct{})
	var factories []informers.SharedInformerFactory
	for range watchers {
		f := informers.NewSharedInformerFactoryWithOptions(kubernetes.NewForConfigOrDie(srv.Config()), 0, informers.WithNamespace("default"))
		inf := f.Core().V1().ConfigMaps().Informer()
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{UpdateFunc: func(_, _ any) {
			if delivered.Add(1) == int64(watchers*benchUpdates) {
				close(done)
			}
		}})
		f.Start(ctx.Done())
		cache.WaitForCacheSync(ctx.Done(), inf.HasSynced)
		factories = append(factories, f)
	}
	start := time.Now()
	for i := range benchUpdates {
		cm := objs[i%benchObjects].(*corev1.ConfigMap)
		cm.Data["v"] = fmt.Sprint(i + 1)
		cm.ResourceVersion = ""
		if _, err := cs.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	if watchers > 0 {
		select {
		case <-done:
		case <-time.After(time.Minute):
			b.Fatalf("informers saw %d of %d updates within a minute", delivered.Load(), watchers*benchUpdates)
		}
	}
	took := time.Since(start)
	cancel()
	for _, f := range factories {
		f.Shutdown()
	}
	return took
}

// BenchmarkWatchDecodeFloor is the floor of BenchmarkAPIServerWatch: what
// client-go itself spends to decode one watch event of a ConfigMap from its
// protobuf frame, with the decoder its watches use.
func BenchmarkWatchDecodeFloor(b *testing.B) {
	info, _ := runtime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	var frame bytes.Buffer
	enc := restclientwatch.NewEncoder(streaming.NewEncoder(info.StreamSerializer.Framer.NewFrameWriter(&frame), info.StreamSerializer.Serializer),
		scheme.Codecs.EncoderForVersion(info.Serializer, corev1.SchemeGroupVersion))
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm-0001", Namespace: "default", ResourceVersion: "12345"}, Data: map[string]string{"v": "1"}}
	if err := enc.Encode(&watch.Event{Type: watch.Modified, Object: cm}); err != nil {
		b.Fatal(err)
	}
	one := frame.Bytes()
	embedded := scheme.Codecs.UniversalDeserializer()
	for b.Loop() {
		r := streaming.NewDecoder(info.StreamSerializer.Framer.NewFrameReader(nopCloser{bytes.NewReader(one)}), info.StreamSerializer.Serializer)
		d := restclientwatch.NewDecoder(r, embedded)
		if _, _, err := d.Decode(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "us/event")
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
