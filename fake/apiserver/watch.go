package apiserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/streaming"
	"k8s.io/apimachinery/pkg/watch"
	restclientwatch "k8s.io/client-go/rest/watch"
)

// watch streams the changes of a resource, as kube-apiserver does:
//   - resourceVersion "" or "0": every matching object as ADDED, then the
//     changes after them;
//   - sendInitialEvents=true (watch-list, resourceVersionMatch=NotOlderThan):
//     the same, then a BOOKMARK with the annotation k8s.io/initial-events-end;
//   - resourceVersion N: the changes after N from the event log, or an ERROR
//     event 410 Expired when N is older than the log;
//
// in version order, until the client goes away, timeoutSeconds pass or the
// server's stream fails.
func (s *Server) watch(ctx context.Context, req *http.Request, w http.ResponseWriter, rt route) error {
	q := req.URL.Query()
	f, err := parseFilter(rt, q)
	if err != nil {
		return err
	}
	var timeout <-chan time.Time
	if v := first(q, "timeoutSeconds"); v != "" {
		secs, err := strconv.Atoi(v)
		if err != nil || secs < 0 {
			return apierrors.NewBadRequest(fmt.Sprintf("invalid timeoutSeconds %q", v))
		}
		if secs > 0 {
			t := time.NewTimer(time.Duration(secs) * time.Second)
			defer t.Stop()
			timeout = t.C
		}
	}
	rv, initial := first(q, "resourceVersion"), first(q, "sendInitialEvents") == "true"
	if initial && first(q, "resourceVersionMatch") != string(metav1.ResourceVersionMatchNotOlderThan) {
		return apierrors.NewBadRequest("sendInitialEvents requires resourceVersionMatch=NotOlderThan")
	}
	mt, partial, ok := negotiate(req.Header.Get("Accept"), rt.res.protobuf)
	if !ok || mt == mediaYAML {
		mt, partial = mediaJSON, false
	}
	wt := &watcher{gvr: rt.res.storeGVR(), filter: f, notify: make(chan struct{}, 1)}
	var objs []runtime.Object
	var since uint64
	expired := false
	replica := replicaOf(ctx)
	switch {
	case replica != nil && (initial || rv == "" || rv == "0"):
		var ok bool
		if objs, since, ok = s.store.cachedWatch(wt, replica); !ok {
			return errCacheGone(since)
		}
	case initial || rv == "" || rv == "0":
		objs, since = s.store.initialWatch(wt)
	default:
		from, err := strconv.ParseUint(rv, 10, 64)
		if err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("invalid resource version %q", rv))
		}
		expired, since = !s.store.startWatch(wt, from), from
	}
	defer s.store.stopWatch(wt)

	stream, err := s.newEventStream(w, mt, partial)
	if err != nil {
		return err
	}
	if expired {
		st := apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", since, s.oldestVersion())).ErrStatus
		_ = stream.send(watch.Error, &st)
		return errStreamed
	}
	for _, obj := range objs {
		if stream.send(watch.Added, rt.res.fromStorage(obj)) != nil {
			return errStreamed
		}
	}
	if initial {
		if stream.send(watch.Bookmark, s.bookmark(rt.res, since, true)) != nil {
			return errStreamed
		}
	}
	var bookmarks <-chan time.Time
	if first(q, "allowWatchBookmarks") == "true" {
		t := time.NewTicker(BookmarkInterval)
		defer t.Stop()
		bookmarks = t.C
	}
	send := func(typ watch.EventType, obj runtime.Object) bool { return stream.send(typ, rt.res.served(obj)) == nil }
	// A lagging replica's watch sends what its cache has, and more when it
	// gains more.
	upTo, gained := func() uint64 { return math.MaxUint64 }, (<-chan struct{})(nil)
	if replica != nil {
		upTo = replica.Version
	}
	for {
		if replica != nil {
			gained = replica.Changed()
		}
		if !wt.drain(&since, upTo(), send) {
			return errStreamed
		}
		select {
		case <-wt.notify:
		case <-gained:
		case <-bookmarks:
			// What is queued goes out before the bookmark that covers it.
			if !wt.drain(&since, upTo(), send) || stream.send(watch.Bookmark, s.bookmark(rt.res, since, false)) != nil {
				return errStreamed
			}
		case <-ctx.Done():
			return errStreamed
		case <-timeout:
			return errStreamed
		}
	}
}

// BookmarkInterval is how often a watch that allows bookmarks gets one:
// a BOOKMARK event with the version up to which it has seen every change,
// so that a client that watches again resumes from there, not from an older
// version the event log may have dropped. kube-apiserver sends them about
// once a minute.
const BookmarkInterval = time.Minute

// drain sends, in version order, the queued events after *since, up to
// version upTo, that the watcher's filter selects, and moves *since past
// every one of them, sent or not (a bookmark then covers it); later ones
// stay queued. It returns false when send fails.
func (w *watcher) drain(since *uint64, upTo uint64, send func(watch.EventType, runtime.Object) bool) bool {
	evs := w.take()
	if len(w.held) > 0 {
		evs, w.held = append(w.held, evs...), nil
	}
	for i, ev := range evs {
		if ev.rv <= *since {
			continue
		}
		if ev.rv > upTo {
			w.held = append([]*logEvent(nil), evs[i:]...)
			return true
		}
		*since = ev.rv
		if typ, obj := selected(ev, w.filter); obj != nil && !send(typ, obj) {
			return false
		}
	}
	return true
}

// selected is what a watch with filter f sends for ev, as kube-apiserver's
// watch cache decides it: a change to an object that matches before and
// after is MODIFIED, one that starts to match is ADDED, one that stops is
// DELETED with the object as it last matched, at the event's version.
// Nothing is sent for an object that matches neither before nor after.
func selected(ev *logEvent, f filter) (watch.EventType, runtime.Object) {
	now := ev.typ != watch.Deleted && f.matches(ev.obj.obj)
	before := ev.prev != nil && f.matches(ev.prev.obj)
	switch {
	case now && before:
		return ev.typ, sharedObject{r: ev.obj}
	case now:
		return watch.Added, sharedObject{r: ev.obj}
	case ev.typ == watch.Deleted && before:
		return watch.Deleted, sharedObject{r: ev.obj} // the deleted object, at the deletion's version
	case before:
		obj := ev.prev.obj.DeepCopyObject()
		m, _ := meta.Accessor(obj)
		m.SetResourceVersion(strconv.FormatUint(ev.rv, 10))
		return watch.Deleted, obj
	}
	return "", nil
}

func (s *Server) oldestVersion() uint64 {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	return s.store.dropped + 1
}

// bookmark is the object of a BOOKMARK event: the kind, the version, and
// for the end of watch-list's initial events its annotation.
func (s *Server) bookmark(r *resource, rv uint64, initialEnd bool) runtime.Object {
	var obj runtime.Object = &unstructured.Unstructured{}
	if r.typed {
		obj, _ = s.scheme.New(r.gvk)
	} else {
		obj.GetObjectKind().SetGroupVersionKind(r.gvk)
	}
	m, _ := meta.Accessor(obj)
	m.SetResourceVersion(strconv.FormatUint(rv, 10))
	if initialEnd {
		m.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
	}
	return obj
}

// eventStream writes watch events in the framing of a media type.
type eventStream struct {
	s   *Server
	mt  string
	enc *restclientwatch.Encoder
	w   http.ResponseWriter
	// partial: every event's object is its metadata alone.
	partial bool
}

func (s *Server) newEventStream(w http.ResponseWriter, mt string, partial bool) (*eventStream, error) {
	info, ok := runtimeSerializer(s, mt)
	if !ok || info.StreamSerializer == nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("no stream serializer for %s", mt))
	}
	contentType := mt
	if mt == mediaProtobuf {
		contentType = mt + ";stream=watch"
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	_ = flush(w) // the status line: nothing held yet
	framer := info.StreamSerializer.Framer.NewFrameWriter(w)
	es := &eventStream{s: s, mt: mt, w: w, partial: partial}
	es.enc = restclientwatch.NewEncoder(streaming.NewEncoder(framer, info.StreamSerializer.Serializer), embedded{s: s, mt: mt})
	return es, nil
}

func (e *eventStream) send(typ watch.EventType, obj runtime.Object) error {
	if e.partial && typ != watch.Error {
		obj = partialMetadata(obj)
	}
	if err := e.enc.Encode(&watch.Event{Type: typ, Object: obj}); err != nil {
		return err
	}
	return flush(e.w)
}

// flush sends what w holds; in memory, it reports a stream the client closed.
func flush(w http.ResponseWriter) error {
	switch f := w.(type) {
	case *streamWriter:
		return f.flush()
	case http.Flusher:
		f.Flush()
	}
	return nil
}

// sharedObject is a stored revision as the server answers it, to a get, to
// the write that made it and to every watcher: encoded once per media type,
// however many read it. Go callers get a copy of their own (owned).
type sharedObject struct {
	r *revision
	// as is the version of a custom resource the revision is served at
	// when its CRD stores another one; nil: as stored.
	as *custom
}

func (o sharedObject) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

func (o sharedObject) DeepCopyObject() runtime.Object {
	if o.as != nil {
		return o.as.convert(o.r.obj)
	}
	return o.r.obj.DeepCopyObject()
}

// owned is obj as a Go caller may keep and change it.
func owned(obj runtime.Object) runtime.Object {
	if shared, ok := obj.(sharedObject); ok {
		return shared.DeepCopyObject()
	}
	return obj
}

// embedded encodes an event's object as the server encodes objects.
type embedded struct {
	s  *Server
	mt string
}

func (e embedded) Encode(obj runtime.Object, w io.Writer) error {
	b, err := e.s.encode(obj, e.mt)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func (e embedded) Identifier() runtime.Identifier {
	return runtime.Identifier("leaderlab-embedded-" + e.mt)
}

func runtimeSerializer(s *Server, mt string) (runtime.SerializerInfo, bool) {
	return runtime.SerializerInfoForMediaType(s.codecs.SupportedMediaTypes(), mt)
}

// watchResponse serves a watch in memory: the handler runs on a goroutine of
// its own and streams the body through a pipe; the response returns once
// the status line is written. The goroutine ends when the stream does, or
// when the client closes the body.
func (s *Server) watchResponse(req *http.Request) *http.Response {
	pr, pw := io.Pipe()
	w := &streamWriter{header: http.Header{}, pw: pw, started: make(chan struct{})}
	go func() {
		defer func() { _ = pw.Close() }()
		s.ServeHTTP(w, req)
		w.WriteHeader(http.StatusOK)
	}()
	<-w.started
	return &http.Response{
		Status: fmt.Sprintf("%d %s", w.code, http.StatusText(w.code)), StatusCode: w.code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: w.header, Body: pr, ContentLength: -1, Request: req,
	}
}

// streamWriter is the in-memory ResponseWriter of a watch. It holds what is
// written until a flush (the end of an event), so that the client reads one
// event in one hand-off through the pipe, not its frame header and its body
// apart.
type streamWriter struct {
	header  http.Header
	code    int
	pw      *io.PipeWriter
	buf     bytes.Buffer
	err     error // the failed hand-off's, for every write after it
	once    sync.Once
	started chan struct{}
}

func (w *streamWriter) Header() http.Header { return w.header }

func (w *streamWriter) WriteHeader(code int) {
	w.once.Do(func() {
		w.code = code
		w.header = w.header.Clone()
		close(w.started)
	})
}

func (w *streamWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.err != nil {
		return 0, w.err
	}
	return w.buf.Write(b)
}

func (w *streamWriter) Flush() { _ = w.flush() }

// flush hands what is held to the client: it returns once the client has
// read it, or with an error when the client has closed the stream.
func (w *streamWriter) flush() error {
	if w.err != nil || w.buf.Len() == 0 {
		return w.err
	}
	_, w.err = w.pw.Write(w.buf.Bytes())
	w.buf.Reset()
	return w.err
}
