package apiserver

import (
	"net/http"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// The server's own writers, as Change.By names them.
const (
	GarbageCollector    = "garbage collector"
	NamespaceController = "namespace controller"
	// Seed is Add's, and New's seed objects'.
	Seed = "seed"
)

// Change is one write the server stored: what a test needs to follow every
// version of every object (who wrote it, what it was before and after),
// which no client can see, since a watch may skip versions and a client
// sees only what it is sent.
type Change struct {
	// Resource and Kind are where and as what the object is stored (the
	// storage version of a custom resource with several).
	Resource schema.GroupVersionResource
	Kind     schema.GroupVersionKind
	// Namespace ("" when cluster-scoped) and Name name the object.
	Namespace, Name string
	// Type is watch.Added, watch.Modified or watch.Deleted.
	Type watch.EventType
	// Object is the object after the write (for a deletion, its last
	// state), Previous the one before it (nil for a creation). Both are the
	// server's own copies: read them, never change them. A Go type's
	// TypeMeta is empty, as stored; Kind says what it is.
	Object, Previous runtime.Object
	// ResourceVersion is the version the write made.
	ResourceVersion string
	// Request is the request that made the write; nil for the server's
	// own, and then By names the writer (GarbageCollector,
	// NamespaceController or Seed).
	Request *http.Request
	By      string
}

// OnChange sets a function told of every write the server stores, dry runs
// excepted, as it stores it: synchronously, in the order of the
// resourceVersions, while the server holds its store's lock. fn must return
// quickly and must not call the server.
func (s *Server) OnChange(fn func(Change)) {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	s.onChange = fn
}
