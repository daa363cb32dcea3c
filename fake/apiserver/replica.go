package apiserver

import (
	"context"
	"fmt"
	"maps"
	"math"
	"net/url"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/storage"
)

// Replica is the watch cache of one kube-apiserver replica of an HA control
// plane: the newest version of the store it has caught up to. A replica whose
// cache lags etcd serves some reads from the past; ServedBy says which.
type Replica interface {
	// Version is the newest store version the replica's cache has; one at
	// or past the store's newest means it has caught up.
	Version() uint64
	// Changed is sent on, or closed, when Version moves on: open watches
	// then send what the cache has gained.
	Changed() <-chan struct{}
}

type replicaKey struct{}

// ServedBy returns ctx for a request that replica r serves, with
// kube-apiserver 1.37's rules for what its watch cache answers:
//   - a get or list with a resourceVersion ("0", or a version the cache
//     has) reads the cache: the objects as they were at r's version; one
//     newer than the cache is answered 504 "Too large resource version"
//     with Retry-After 1 s;
//   - a watch sends the changes up to r's version and each later one when
//     the cache gains it; its initial events (resourceVersion "" or "0",
//     or sendInitialEvents) are the objects at r's version;
//   - a get or list without a resourceVersion, an exact-match list and
//     every write reach the store (etcd), as they are now.
//
// kube-apiserver also makes a consistent list and a watch-list wait, at most
// 3 s, for its cache to reach the store's version, and answers a watch-list
// that timed out 504: the caller, who owns the clock, does that waiting and
// answers those itself before it hands the request over. A version older
// than the server's event log cannot be rebuilt: the read is unserved.
func ServedBy(ctx context.Context, r Replica) context.Context {
	return context.WithValue(ctx, replicaKey{}, r)
}

func replicaOf(ctx context.Context) Replica {
	r, _ := ctx.Value(replicaKey{}).(Replica)
	return r
}

// cacheRead reports whether kube-apiserver serves a get or list with query
// q from its watch cache rather than from etcd.
func cacheRead(q url.Values, list bool) bool {
	if q.Get("resourceVersion") == "" {
		return false
	}
	return !list || q.Get("resourceVersionMatch") != string(metav1.ResourceVersionMatchExact)
}

// cacheVersion is the version a replica's cache read is served at, and the
// error for a read that asks for a newer one (asked: its resourceVersion).
func (s *store) cacheVersion(r Replica, asked uint64) (uint64, error) {
	s.mu.Lock()
	v := min(r.Version(), s.rv)
	s.mu.Unlock()
	if asked > v {
		return v, storage.NewTooLargeResourceVersionError(asked, v, 1)
	}
	return v, nil
}

// atLocked returns the objects of gvr as they were at version v: the ones
// stored now, with the logged changes after v undone. ok is false when
// changes after v have left the log. The map is the store's own when v is
// the newest version: read it, never change it.
func (s *store) atLocked(gvr schema.GroupVersionResource, v uint64) (objs map[objectKey]*revision, ok bool) {
	if v >= s.rv {
		return s.objects[gvr], true
	}
	if v < s.dropped {
		return nil, false
	}
	objs = maps.Clone(s.objects[gvr])
	for i := len(s.log) - 1; i >= 0 && s.log[i] != nil && s.log[i].rv > v; i-- {
		ev := s.log[i]
		if ev.gvr != gvr {
			continue
		}
		m, _ := meta.Accessor(ev.obj.obj)
		if key := keyOf(m); ev.prev == nil {
			delete(objs, key)
		} else {
			objs[key] = ev.prev
		}
	}
	return objs, true
}

// replicaRead is the replica that serves the get or list rt from its cache,
// with the request's query; nil when the store serves it. A read that
// names a resourceVersion and comes through no lagging replica is served
// by a cache that is up to date: the store, which answers one newer than
// its own 504 as kube-apiserver's cache does (after waiting 3 s for it).
func (s *Server) replicaRead(rt route, list bool) (Replica, url.Values) {
	if rt.req == nil || !strings.Contains(rt.req.URL.RawQuery, "resourceVersion=") {
		return nil, nil
	}
	r := replicaOf(rt.req.Context())
	if r == nil {
		r = upToDate{}
	}
	q := rt.req.URL.Query()
	if !cacheRead(q, list) {
		return nil, nil
	}
	return r, q
}

// cached is the objects of rt's resource in replica r's cache, for a read
// with query q; at, when not zero, is the version a list continues at.
func (s *Server) cached(rt route, r Replica, q url.Values, at uint64) (map[objectKey]*revision, error) {
	asked, err := parseVersion(q.Get("resourceVersion"))
	if err != nil {
		return nil, err
	}
	v, err := s.store.cacheVersion(r, asked)
	if err != nil {
		return nil, err
	}
	if at != 0 {
		v = at
	}
	s.store.mu.Lock()
	objs, ok := s.store.atLocked(rt.res.storeGVR(), v)
	s.store.mu.Unlock()
	if !ok {
		return nil, errCacheGone(v)
	}
	return objs, nil
}

// cachedAt is the version a read from replica r's cache is served at.
func (s *Server) cachedAt(r Replica) uint64 {
	v, _ := s.store.cacheVersion(r, 0)
	return v
}

// parseVersion reads a resourceVersion parameter ("" and "0" are 0).
func parseVersion(rv string) (uint64, error) {
	if rv == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version %q", rv))
	}
	return v, nil
}

// errCacheGone is the answer to a read of a replica's cache whose changes
// since have left the event log: a 500, which the server records as
// unserved (see writeError).
func errCacheGone(v uint64) error {
	return apierrors.NewInternalError(fmt.Errorf("a lagging replica's cache at resourceVersion %d: its changes since have left the server's event log", v))
}

// upToDate is the cache of a server that is not behind its store.
type upToDate struct{}

func (upToDate) Version() uint64 { return math.MaxUint64 }

func (upToDate) Changed() <-chan struct{} { return nil }
