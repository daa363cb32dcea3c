package sim

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
)

// What each process has seen of the data objects: the oracles must know
// whether a writer could have known of a change before it undid it, and
// only the answers and watch events the process was handed say that. They
// are kept as the bytes that reached it, with the instant, and read only
// when a report is made, so that a run pays for no decoding.

// sighting is one answer, or one chunk of a watch, that reached a process.
type sighting struct {
	proc     string // the process, as Version.writer names it
	at       time.Duration
	resource string // the resource its objects belong to, without a subresource
	mt       string
	body     []byte
	stream   *stream // the watch it came on; nil for an answer
}

// dataResource is the resource of rt without a subresource, and whether
// its objects are data (not the run's lease, not Events).
func (c *Cluster) dataResource(rt route) (string, bool) {
	resource, _, _ := strings.Cut(rt.Resource, "/")
	return resource, resource != "" && c.writeKind(resource, rt.Namespace, rt.Name) == WriteData
}

// sawAnswer notes an answer that reached r's process.
func (c *Cluster) sawAnswer(r *request) {
	resp := r.rep.resp
	if r.rep.err != nil || resp.Code >= 300 || resp.Stream != nil || len(resp.Body) == 0 {
		return
	}
	if resource, ok := c.dataResource(r.route); ok {
		c.rec.saw(sighting{proc: procKey(r.p), at: c.rec.now(), resource: resource, mt: resp.ContentType, body: resp.Body})
	}
}

// sawChunk notes a chunk of a watch that reached its process.
func (c *Cluster) sawChunk(s *stream, data []byte) {
	if resource, ok := c.dataResource(s.r.route); ok {
		c.rec.saw(sighting{proc: procKey(s.r.p), at: c.rec.now(), resource: resource, mt: s.r.rep.resp.ContentType, body: data, stream: s})
	}
}

func procKey(p *process) string { return p.cand.name + "#" + strconv.Itoa(p.start) }

// views is what each process had seen of each object, and when: the
// versions (by resourceVersion) in order of arrival.
type views map[string]map[string][]seen

type seen struct {
	at time.Duration
	rv uint64
}

// newest is the newest version of obj that proc had seen at or before t
// (0: none).
func (v views) newest(proc, obj string, t time.Duration) uint64 {
	var rv uint64
	for _, s := range v[proc][obj] {
		if s.at <= t {
			rv = max(rv, s.rv)
		}
	}
	return rv
}

// viewReader decodes sightings as reports are made, each once. A watch's
// chunks are read as one stream, each event seen when the chunk that
// completes it arrived.
type viewReader struct {
	views   views
	streams map[*stream]*watchReader
	done    int // sightings read so far
}

func (vr *viewReader) read(sightings []sighting) views {
	if vr.views == nil {
		vr.views, vr.streams = make(views), make(map[*stream]*watchReader)
	}
	add := func(proc, resource string, at time.Duration, m objectMeta) {
		rv, err := strconv.ParseUint(m.ResourceVersion, 10, 64)
		if m.Name == "" || err != nil {
			return
		}
		obj := objectName(resource, m.Namespace, m.Name)
		if vr.views[proc] == nil {
			vr.views[proc] = make(map[string][]seen)
		}
		vr.views[proc][obj] = append(vr.views[proc][obj], seen{at: at, rv: rv})
	}
	for _, s := range sightings[vr.done:] {
		if s.stream == nil {
			for _, m := range answerMetas(s.mt, s.body) {
				add(s.proc, s.resource, s.at, m)
			}
			continue
		}
		w := vr.streams[s.stream]
		if w == nil {
			w = &watchReader{protobuf: strings.HasPrefix(s.mt, runtime.ContentTypeProtobuf)}
			vr.streams[s.stream] = w
		}
		for _, m := range w.feed(s.body) {
			add(s.proc, s.resource, s.at, m)
		}
	}
	vr.done = len(sightings)
	return vr.views
}

// objectMeta is what the oracles read of an object.
type objectMeta struct {
	Name, Namespace, ResourceVersion string
}

// jsonAnswer is an object, a list or a watch event in JSON, read for its
// objects' metadata only.
type jsonAnswer struct {
	Metadata objectMeta `json:"metadata"`
	Items    []struct {
		Metadata objectMeta `json:"metadata"`
	} `json:"items"`
	Object *jsonAnswer `json:"object"`
}

func (a *jsonAnswer) metas() []objectMeta {
	if a.Object != nil {
		return a.Object.metas()
	}
	if a.Items != nil {
		out := make([]objectMeta, len(a.Items))
		for i, it := range a.Items {
			out[i] = it.Metadata
		}
		return out
	}
	return []objectMeta{a.Metadata}
}

// answerMetas reads the objects of an answer: one object or a list.
func answerMetas(mt string, body []byte) []objectMeta {
	if !strings.HasPrefix(mt, runtime.ContentTypeProtobuf) {
		var a jsonAnswer
		if json.Unmarshal(body, &a) != nil {
			return nil
		}
		return a.metas()
	}
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, nil)
	if err != nil {
		return nil
	}
	return typedMetas(obj)
}

func typedMetas(obj runtime.Object) []objectMeta {
	objs := []runtime.Object{obj}
	if meta.IsListType(obj) {
		objs, _ = meta.ExtractList(obj)
	}
	out := make([]objectMeta, 0, len(objs))
	for _, o := range objs {
		if m, err := meta.Accessor(o); err == nil {
			out = append(out, objectMeta{Name: m.GetName(), Namespace: m.GetNamespace(), ResourceVersion: m.GetResourceVersion()})
		}
	}
	return out
}

// watchReader reads a watch's events from its chunks as they come: JSON
// values one after another, or protobuf frames, each a 4-byte length and a
// metav1.WatchEvent.
type watchReader struct {
	protobuf bool
	pending  []byte
}

func (w *watchReader) feed(chunk []byte) []objectMeta {
	w.pending = append(w.pending, chunk...)
	var out []objectMeta
	if !w.protobuf {
		dec := json.NewDecoder(bytes.NewReader(w.pending))
		var used int64
		for {
			var a jsonAnswer
			if dec.Decode(&a) != nil {
				break // the rest of an event still to come
			}
			out = append(out, a.metas()...)
			used = dec.InputOffset()
		}
		w.pending = w.pending[used:]
		return out
	}
	for len(w.pending) >= 4 {
		n := int(binary.BigEndian.Uint32(w.pending))
		if len(w.pending) < 4+n {
			break
		}
		var ev metav1.WatchEvent
		if ev.Unmarshal(w.pending[4:4+n]) == nil {
			if obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(ev.Object.Raw, nil, nil); err == nil {
				out = append(out, typedMetas(obj)...)
			}
		}
		w.pending = w.pending[4+n:]
	}
	return out
}
