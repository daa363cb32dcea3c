package apiserver_test

// The API server conformance table: behaviours of the Kubernetes API, as real
// clients see them, that every API server this module offers or tests against
// must show. Each expectation comes from the API contract (the Kubernetes "API
// concepts" documentation and the API conventions) and was verified on a real
// kube-apiserver (v1.37.2, through envtest); where the contract leaves a detail
// to the server (an error's message), the row asserts kube-apiserver's form,
// because clients and users match on it.

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/fake/apiserver"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	resourcev1 "k8s.io/api/resource/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/watch"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// apiTarget is one API server the conformance table runs against.
type apiTarget struct {
	name string
	// config returns a config for this test, which the test may change; it
	// fails the test if the server is unavailable.
	config func(t *testing.T) *rest.Config
}

// apiTargets are the servers of the table. (The in-memory server is added here
// once it exists.)
func apiTargets() []apiTarget {
	return []apiTarget{{
		name: "kube-apiserver",
		config: func(t *testing.T) *rest.Config {
			t.Helper()
			if apiServerErr != nil {
				t.Fatal(apiServerErr)
			}
			return rest.CopyConfig(apiServer.Config)
		},
	}, {
		name: "apiserver.Server",
		config: func(t *testing.T) *rest.Config {
			t.Helper()
			// kube-apiserver runs beside kube-controller-manager's garbage
			// collector and namespace controller (internal/testenv).
			srv := newServer(t, apiserver.WithCRDPaths(crdPath),
				apiserver.WithControllers(apiserver.Controllers{GarbageCollection: true, NamespaceLifecycle: true}))
			t.Cleanup(func() {
				if u := srv.Unserved(); len(u) != 0 {
					t.Errorf("requests apiserver.Server could not serve: %v", u)
				}
			})
			return srv.Config()
		},
	}}
}

// apiContract is one row: a behaviour every target must show.
type apiContract struct {
	name string
	// run checks the behaviour; ns is a fresh namespace created for the row.
	run func(t *testing.T, cfg *rest.Config, ns string)
}

var apiContracts = []apiContract{
	{"resourceVersion guards updates", resourceVersionContract},
	{"create of an existing name is AlreadyExists; generateName", createContract},
	{"get of a missing object is NotFound", notFoundContract},
	{"create in a missing namespace is NotFound", missingNamespaceContract},
	{"list with label and field selectors, across namespaces", selectorContract},
	{"list pagination with limit and continue", paginationContract},
	{"watch delivers events in order and resumes from a resourceVersion", watchOrderContract},
	{"a selector's watch sees objects enter and leave the selection", watchSelectionContract},
	{"an update naming another UID is a Conflict", uidContract},
	{"a get or list at a resourceVersion newer than the server's is 504 Too large", tooLargeContract},
	// Not here: a watch from a resourceVersion older than the server's history
	// must fail with 410 Gone, reason Expired. kube-apiserver serves watches
	// from its watch cache, which starts at the etcd revision of its first list
	// (about 1 on envtest: a watch from resourceVersion 1 replays every event)
	// and drops history only once its ring buffer is full with an event older
	// than 75 s in it, or after an etcd compaction (every 5 minutes); neither
	// can be provoked within a few seconds.
	{"watch-list ends its initial events with a bookmark; informers sync", watchListContract},
	{"watch ends after timeoutSeconds", watchTimeoutContract},
	{"JSON, merge and strategic merge patches", patchContract},
	{"server-side apply: conflicts and force", applyContract},
	{"status subresource and generation", statusContract},
	{"metadata.generation by kind", generationContract},
	{"finalizers and delete preconditions", finalizerContract},
	{"deletion and failed JSON patches: generation, finalizers, 422", deletionContract},
	{"dryRun on every write: the answer, and nothing stored", dryRunContract},
	{"metadata-only get, list and watch (PartialObjectMetadata)", metadataOnlyContract},
	{"a fresh server: its namespaces, the kubernetes Service, the group versions of v1.37", freshServerContract},
	{"names per kind, namespaces/finalize, what a status write keeps", perKindContract},
	{"subresources of built-in kinds: scale, eviction, binding, approval, token", builtinSubresourcesContract},
	{"fieldValidation of built-in kinds: warnings, Strict, Ignore", builtinFieldValidationContract},
	{"Secrets and ConfigMaps: stringData, immutable type and data", secretRulesContract},
	{"deletecollection by label selector", deleteCollectionContract},
	{"garbage collection: background, foreground and orphan cascades", garbageCollectionContract},
	{"namespace deletion: Terminating, no new content, emptied, gone", namespaceDeletionContract},
	{"cluster-scoped resources", clusterScopeContract},
	{"discovery", discoveryContract},
	{"metadata; JSON and protobuf see the same object", metadataContract},
	{"bad requests: unsupported patch type, malformed body", badRequestContract},
	// Custom resources (conformance_crd_test.go; CRDs in testdata/crds).
	{"custom resources: schema defaults on create and update, nested", defaultingContract},
	{"custom resources: unknown fields pruned, except where preserved", pruningContract},
	{"custom resources: fieldValidation Warn, Ignore and Strict", fieldValidationContract},
	{"custom resources: a schema violation is 422 Invalid", schemaViolationContract},
	{"custom resources: CEL rules, messageExpression, transition rule", celContract},
	{"custom resources: status subresource and generation", crdStatusContract},
	{"custom resources: scale subresource", scaleContract},
	{"custom resources: two served versions, one storage version", multiVersionContract},
	{"custom resources: selectableFields in field selectors", selectableFieldsContract},
	{"custom resources: server-side apply of a map-type list", applyListMapContract},
	{"custom resources: JSON only", crdContentTypeContract},
	{"custom resources: a CRD created at run time is served; a malformed one is refused", runtimeCRDContract},
}

// TestAPIServerConformance runs every row of apiContracts against every
// target, each row in a namespace of its own.
func TestConformance(t *testing.T) {
	for _, target := range apiTargets() {
		t.Run(target.name, func(t *testing.T) {
			for _, c := range apiContracts {
				t.Run(c.name, func(t *testing.T) {
					cfg := target.config(t)
					ns := createNamespace(t, cfg)
					c.run(t, cfg, ns)
				})
			}
		})
	}
}

const (
	// rowTimeout bounds each row's requests together.
	rowTimeout = 15 * time.Second
	// eventTimeout bounds the wait for one watch event.
	eventTimeout = 5 * time.Second
)

// resourceVersionContract: a write returns the object's new resourceVersion;
// an update carrying a resourceVersion succeeds only if it is the current one
// (optimistic concurrency, 409 Conflict otherwise); an update without one is
// unconditional.
func resourceVersionContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cms := clientset(t, cfg).CoreV1().ConfigMaps(ns)

	created, err := cms.Create(ctx, newConfigMap(ns, "rv", map[string]string{"k": "1"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.ResourceVersion == "" {
		t.Fatal("create returned an empty resourceVersion")
	}

	next := created.DeepCopy()
	next.Data["k"] = "2"
	updated, err := cms.Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update with the current resourceVersion: %v", err)
	}
	if updated.ResourceVersion == "" || updated.ResourceVersion == created.ResourceVersion {
		t.Fatalf("update returned resourceVersion %q after %q, want a new one", updated.ResourceVersion, created.ResourceVersion)
	}

	stale := created.DeepCopy()
	stale.Data["k"] = "3"
	_, err = cms.Update(ctx, stale, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		t.Fatalf("update with a stale resourceVersion: got %v, want Conflict", err)
	}
	wantStatus(t, err, metav1.Status{
		Code:    http.StatusConflict,
		Reason:  metav1.StatusReasonConflict,
		Message: `Operation cannot be fulfilled on configmaps "rv": the object has been modified; please apply your changes to the latest version and try again`,
		Details: &metav1.StatusDetails{Name: "rv", Kind: "configmaps"},
	})

	stale.ResourceVersion = ""
	forced, err := cms.Update(ctx, stale, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update without a resourceVersion: %v", err)
	}
	if forced.ResourceVersion == updated.ResourceVersion || forced.Data["k"] != "3" {
		t.Fatalf("unconditional update returned resourceVersion %q, data %v; want a new version with k=3", forced.ResourceVersion, forced.Data)
	}
	got, err := cms.Get(ctx, "rv", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion != forced.ResourceVersion || got.Data["k"] != "3" {
		t.Fatalf("get after the updates: resourceVersion %q, data %v; want %q, k=3", got.ResourceVersion, got.Data, forced.ResourceVersion)
	}
}

// createContract: names are unique per resource and namespace (409
// AlreadyExists); generateName makes the server pick a name with that prefix.
func createContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cms := clientset(t, cfg).CoreV1().ConfigMaps(ns)

	if _, err := cms.Create(ctx, newConfigMap(ns, "taken", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := cms.Create(ctx, newConfigMap(ns, "taken", nil), metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: got %v, want AlreadyExists", err)
	}
	wantStatus(t, err, metav1.Status{
		Code:    http.StatusConflict,
		Reason:  metav1.StatusReasonAlreadyExists,
		Message: `configmaps "taken" already exists`,
		Details: &metav1.StatusDetails{Name: "taken", Kind: "configmaps"},
	})

	names := map[string]bool{}
	for range 2 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "gen-"}}
		got, err := cms.Create(ctx, cm, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(got.Name, "gen-") || len(got.Name) == len("gen-") || got.GenerateName != "gen-" {
			t.Fatalf("generateName gen-: got name %q, generateName %q", got.Name, got.GenerateName)
		}
		names[got.Name] = true
	}
	if len(names) != 2 {
		t.Fatalf("two creates with generateName gave the names %v, want two different names", names)
	}
}

// notFoundContract: a get of a missing object is 404 NotFound, naming the
// resource with its group.
func notFoundContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cs := clientset(t, cfg)

	_, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "missing", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("get of a missing ConfigMap: got %v, want NotFound", err)
	}
	wantStatus(t, err, metav1.Status{
		Code:    http.StatusNotFound,
		Reason:  metav1.StatusReasonNotFound,
		Message: `configmaps "missing" not found`,
		Details: &metav1.StatusDetails{Name: "missing", Kind: "configmaps"},
	})

	_, err = cs.AppsV1().Deployments(ns).Get(ctx, "missing", metav1.GetOptions{})
	wantStatus(t, err, metav1.Status{
		Code:    http.StatusNotFound,
		Reason:  metav1.StatusReasonNotFound,
		Message: `deployments.apps "missing" not found`,
		Details: &metav1.StatusDetails{Name: "missing", Group: "apps", Kind: "deployments"},
	})
}

// missingNamespaceContract: an object cannot be created in a namespace that
// does not exist (the NamespaceLifecycle admission plugin, on by default).
func missingNamespaceContract(t *testing.T, cfg *rest.Config, _ string) {
	ctx := rowContext(t)
	missing := "conf-missing-" + utilrand.String(5)
	_, err := clientset(t, cfg).CoreV1().ConfigMaps(missing).Create(ctx, newConfigMap(missing, "c", nil), metav1.CreateOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("create in a missing namespace: got %v, want NotFound", err)
	}
	wantStatus(t, err, metav1.Status{
		Code:    http.StatusNotFound,
		Reason:  metav1.StatusReasonNotFound,
		Message: fmt.Sprintf(`namespaces "%s" not found`, missing),
		Details: &metav1.StatusDetails{Name: missing, Kind: "namespaces"},
	})
}

// selectorContract: lists filter by label selectors (=, !=, in, exists, does
// not exist; != and !key match objects without the key) and by the field
// selectors metadata.name and metadata.namespace that every resource supports;
// a list across all namespaces sees every namespace; a list has a
// resourceVersion.
func selectorContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cs := clientset(t, cfg)
	other := createNamespace(t, cfg)
	row := utilrand.String(8) // a label no other row's objects carry

	seed := []struct {
		ns, name string
		labels   map[string]string
	}{
		{ns, "a", map[string]string{"row": row, "app": "x", "tier": "front"}},
		{ns, "b", map[string]string{"row": row, "app": "y", "tier": "back"}},
		{ns, "c", map[string]string{"row": row, "app": "z"}},
		{other, "d", map[string]string{"row": row, "app": "x"}},
	}
	for _, s := range seed {
		cm := newConfigMap(s.ns, s.name, nil)
		cm.Labels = s.labels
		if _, err := cs.CoreV1().ConfigMaps(s.ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct {
		namespace, labels, fields string
		want                      []string // namespace/name
	}{
		{ns, "app=x", "", []string{ns + "/a"}},
		{ns, "app!=x", "", []string{ns + "/b", ns + "/c"}},
		{ns, "app in (x,y)", "", []string{ns + "/a", ns + "/b"}},
		{ns, "app notin (x,y)", "", []string{ns + "/c"}},
		{ns, "tier", "", []string{ns + "/a", ns + "/b"}},
		{ns, "!tier", "", []string{ns + "/c"}},
		{ns, "app=x,tier=front", "", []string{ns + "/a"}},
		{ns, "", "metadata.name=b", []string{ns + "/b"}},
		{ns, "", "metadata.name!=b", []string{ns + "/a", ns + "/c"}},
		{ns, "", "metadata.namespace=" + ns, []string{ns + "/a", ns + "/b", ns + "/c"}},
		{ns, "", "metadata.namespace=" + other, nil},
		{metav1.NamespaceAll, "row=" + row, "", []string{ns + "/a", ns + "/b", ns + "/c", other + "/d"}},
		{metav1.NamespaceAll, "row=" + row + ",app=x", "", []string{ns + "/a", other + "/d"}},
		{metav1.NamespaceAll, "row=" + row, "metadata.namespace=" + other, []string{other + "/d"}},
		{metav1.NamespaceAll, "row=" + row, "metadata.name=a", []string{ns + "/a"}},
	} {
		list, err := cs.CoreV1().ConfigMaps(tc.namespace).List(ctx, metav1.ListOptions{LabelSelector: tc.labels, FieldSelector: tc.fields})
		if err != nil {
			t.Errorf("list in %q with labels %q, fields %q: %v", tc.namespace, tc.labels, tc.fields, err)
			continue
		}
		var got []string
		for _, cm := range list.Items {
			got = append(got, cm.Namespace+"/"+cm.Name)
		}
		slices.Sort(got)
		slices.Sort(tc.want)
		if !slices.Equal(got, tc.want) {
			t.Errorf("list in %q with labels %q, fields %q: got %v, want %v", tc.namespace, tc.labels, tc.fields, got, tc.want)
		}
		if list.ResourceVersion == "" {
			t.Errorf("list in %q with labels %q, fields %q: empty resourceVersion", tc.namespace, tc.labels, tc.fields)
		}
	}
}

// paginationContract: a list with limit returns at most limit items and a
// continue token while more remain; following the tokens yields every object
// exactly once, in key (name) order, and the last page has no token.
func paginationContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cms := clientset(t, cfg).CoreV1().ConfigMaps(ns)
	for _, name := range []string{"p-3", "p-0", "p-4", "p-1", "p-2"} { // not in name order
		if _, err := cms.Create(ctx, newConfigMap(ns, name, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	var names []string
	var sizes []int
	token := ""
	for page := 0; ; page++ {
		if page == 5 {
			t.Fatalf("still a continue token after %d pages of 2 over 5 objects; pages %v, items %v", page, sizes, names)
		}
		list, err := cms.List(ctx, metav1.ListOptions{Limit: 2, Continue: token})
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if list.ResourceVersion == "" {
			t.Errorf("page %d: empty resourceVersion", page)
		}
		sizes = append(sizes, len(list.Items))
		for _, cm := range list.Items {
			names = append(names, cm.Name)
		}
		token = list.Continue
		if token == "" {
			break
		}
	}
	if !slices.Equal(sizes, []int{2, 2, 1}) {
		t.Errorf("page sizes %v, want [2 2 1]", sizes)
	}
	if want := []string{"p-0", "p-1", "p-2", "p-3", "p-4"}; !slices.Equal(names, want) {
		t.Errorf("items over all pages %v, want %v", names, want)
	}
}

// watchOrderContract: a watch from a list's resourceVersion delivers every
// later change, in order, each event carrying the object at that change; a
// watch from the resourceVersion of an event resumes right after it.
func watchOrderContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cms := clientset(t, cfg).CoreV1().ConfigMaps(ns)

	list, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	created, err := cms.Create(ctx, newConfigMap(ns, "w", map[string]string{"k": "1"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	next := created.DeepCopy()
	next.Data["k"] = "2"
	updated, err := cms.Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "w", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The marker's ADDED proves that nothing came between DELETED and it.
	if _, err := cms.Create(ctx, newConfigMap(ns, "marker", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	added := wantEvent(t, w, watch.Added, "w", created.ResourceVersion, "1")
	wantEvent(t, w, watch.Modified, "w", updated.ResourceVersion, "2")
	deleted := wantEvent(t, w, watch.Deleted, "w", "", "2")
	wantEvent(t, w, watch.Added, "marker", "", "")
	if rv := deleted.ResourceVersion; rv == "" || rv == created.ResourceVersion || rv == updated.ResourceVersion {
		t.Errorf("DELETED event has resourceVersion %q, want the deletion's own (not the create's %q or the update's %q)", rv, created.ResourceVersion, updated.ResourceVersion)
	}

	resumed, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: added.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Stop()
	wantEvent(t, resumed, watch.Modified, "w", updated.ResourceVersion, "2")
	wantEvent(t, resumed, watch.Deleted, "w", deleted.ResourceVersion, "2")
	wantEvent(t, resumed, watch.Added, "marker", "", "")
}

// watchListContract: a watch with sendInitialEvents=true,
// resourceVersionMatch=NotOlderThan and allowWatchBookmarks=true (a
// "watch-list", API concepts "Streaming lists") sends one ADDED per existing
// object, then a BOOKMARK annotated k8s.io/initial-events-end=true, then later
// changes. client-go's informers use it by default: one syncs without falling
// back to a list and sees a later create.
func watchListContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cms := clientset(t, cfg).CoreV1().ConfigMaps(ns)
	for _, name := range []string{"l-1", "l-2", "l-3"} {
		if _, err := cms.Create(ctx, newConfigMap(ns, name, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	w, err := cms.Watch(ctx, metav1.ListOptions{
		SendInitialEvents:    ptr.To(true),
		ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
		AllowWatchBookmarks:  true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var initial []string
	for len(initial) < 3 {
		ev := nextEvent(t, w)
		if ev.Type != watch.Added {
			t.Fatalf("initial event %d: got %s %v, want ADDED", len(initial), ev.Type, ev.Object)
		}
		initial = append(initial, ev.Object.(*corev1.ConfigMap).Name)
	}
	slices.Sort(initial)
	if want := []string{"l-1", "l-2", "l-3"}; !slices.Equal(initial, want) {
		t.Errorf("initial events for %v, want one for each of %v", initial, want)
	}
	ev := nextEvent(t, w)
	if ev.Type != watch.Bookmark {
		t.Fatalf("after the initial events: got %s %v, want BOOKMARK", ev.Type, ev.Object)
	}
	bookmark := ev.Object.(*corev1.ConfigMap)
	if got := bookmark.Annotations[metav1.InitialEventsAnnotationKey]; got != "true" || bookmark.ResourceVersion == "" {
		t.Fatalf("bookmark has annotations %v, resourceVersion %q; want %s=true and a resourceVersion", bookmark.Annotations, bookmark.ResourceVersion, metav1.InitialEventsAnnotationKey)
	}
	if _, err := cms.Create(ctx, newConfigMap(ns, "l-4", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wantEvent(t, w, watch.Added, "l-4", "", "")

	informerSyncs(t, cfg, ns)
}

// informerSyncs: a client-go informer on ConfigMaps in ns syncs through a
// watch-list (no fallback to a plain list) and sees a later create.
func informerSyncs(t *testing.T, cfg *rest.Config, ns string) {
	requests := &requestLog{}
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(requests.wrap)
	cs := clientset(t, cfg)

	ctx, cancel := context.WithTimeout(context.Background(), rowTimeout)
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns))
	defer factory.Shutdown() // after cancel: waits for the informer's goroutines
	defer cancel()
	informer := factory.Core().V1().ConfigMaps().Informer()
	adds := make(chan string, 16)
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if cm, ok := obj.(*corev1.ConfigMap); ok {
				select {
				case adds <- cm.Name:
				default:
				}
			}
		},
	}); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	syncCtx, syncCancel := context.WithTimeout(ctx, eventTimeout)
	defer syncCancel()
	for typ, ok := range factory.WaitForCacheSync(syncCtx.Done()) {
		if !ok {
			t.Fatalf("informer for %v did not sync within %v; requests: %v", typ, eventTimeout, requests.lines())
		}
	}
	if got := len(informer.GetStore().ListKeys()); got != 4 {
		t.Errorf("informer store has %d objects after sync, want 4 (%v)", got, informer.GetStore().ListKeys())
	}
	var watchList, plainList int
	for _, r := range requests.lines() {
		switch {
		case strings.Contains(r, "sendInitialEvents=true") && strings.Contains(r, "watch=true"):
			watchList++
		case strings.HasPrefix(r, "GET ") && !strings.Contains(r, "watch=true"):
			plainList++
		}
	}
	if watchList == 0 || plainList != 0 {
		t.Errorf("informer requests %v: want a watch-list and no plain list", requests.lines())
	}

	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, newConfigMap(ns, "late", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(eventTimeout)
	for {
		select {
		case name := <-adds:
			if name == "late" {
				return
			}
		case <-timeout:
			t.Fatalf("informer saw no add of the ConfigMap late within %v", eventTimeout)
		}
	}
}

// watchTimeoutContract: the server ends a watch after its timeoutSeconds.
func watchTimeoutContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cms := clientset(t, cfg).CoreV1().ConfigMaps(ns)
	list, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, TimeoutSeconds: ptr.To[int64](1)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	wantClosed(t, w)
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Errorf("watch with timeoutSeconds=1 ended after %v, before its timeout", elapsed)
	}
}

// patchContract: a JSON patch (RFC 6902) and a JSON merge patch (RFC 7386,
// null deletes) change a ConfigMap; a strategic merge patch merges a
// Deployment's containers by name. Each write gets a new resourceVersion.
func patchContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cs := clientset(t, cfg)
	cms := cs.CoreV1().ConfigMaps(ns)

	cm, err := cms.Create(ctx, newConfigMap(ns, "patched", map[string]string{"a": "1", "b": "2"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	jsonPatched, err := cms.Patch(ctx, "patched", types.JSONPatchType, []byte(`[{"op":"add","path":"/data/c","value":"3"}]`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("JSON patch: %v", err)
	}
	if want := map[string]string{"a": "1", "b": "2", "c": "3"}; !reflect.DeepEqual(jsonPatched.Data, want) {
		t.Errorf("JSON patch: data %v, want %v", jsonPatched.Data, want)
	}
	wantNewVersion(t, "JSON patch", cm.ResourceVersion, jsonPatched.ResourceVersion)

	merged, err := cms.Patch(ctx, "patched", types.MergePatchType, []byte(`{"data":{"a":null,"d":"4"}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("merge patch: %v", err)
	}
	if want := map[string]string{"b": "2", "c": "3", "d": "4"}; !reflect.DeepEqual(merged.Data, want) {
		t.Errorf("merge patch: data %v, want %v", merged.Data, want)
	}
	wantNewVersion(t, "merge patch", jsonPatched.ResourceVersion, merged.ResourceVersion)

	deploy := newDeployment(ns, "patched")
	deploy.Spec.Template.Spec.Containers = []corev1.Container{{Name: "one", Image: "image-1"}, {Name: "two", Image: "image-2"}}
	created, err := cs.AppsV1().Deployments(ns).Create(ctx, deploy, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	smp := []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"two","image":"image-2b"}]}}}}`)
	patched, err := cs.AppsV1().Deployments(ns).Patch(ctx, "patched", types.StrategicMergePatchType, smp, metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("strategic merge patch: %v", err)
	}
	var got []string
	for _, c := range patched.Spec.Template.Spec.Containers {
		got = append(got, c.Name+"="+c.Image)
	}
	if want := []string{"one=image-1", "two=image-2b"}; !slices.Equal(got, want) {
		t.Errorf("strategic merge patch: containers %v, want %v", got, want)
	}
	wantNewVersion(t, "strategic merge patch", created.ResourceVersion, patched.ResourceVersion)
}

// applyContract: server-side apply records each field manager's fields; an
// apply that sets a field another manager owns to a different value fails
// with 409 Conflict naming the manager and field, unless forced, which moves
// the field to the new manager.
func applyContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cms := clientset(t, cfg).CoreV1().ConfigMaps(ns)
	apply := func(value, manager string, force bool) (*corev1.ConfigMap, error) {
		body := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"applied","namespace":%q},"data":{"key":%q}}`, ns, value)
		return cms.Patch(ctx, "applied", types.ApplyPatchType, []byte(body), metav1.PatchOptions{FieldManager: manager, Force: ptr.To(force)})
	}

	first, err := apply("from-a", "a", false)
	if err != nil {
		t.Fatalf("apply by a: %v", err)
	}
	if first.Data["key"] != "from-a" || !managerOwnsKey(t, first, "a") {
		t.Fatalf("apply by a: data %v, managedFields %v; want key=from-a owned by a", first.Data, first.ManagedFields)
	}

	_, err = apply("from-b", "b", false)
	if !apierrors.IsConflict(err) {
		t.Fatalf("apply by b without force: got %v, want Conflict", err)
	}
	wantStatus(t, err, metav1.Status{
		Code:    http.StatusConflict,
		Reason:  metav1.StatusReasonConflict,
		Message: `Apply failed with 1 conflict: conflict with "a": .data.key`,
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{
			Type:    metav1.CauseTypeFieldManagerConflict,
			Message: `conflict with "a"`,
			Field:   ".data.key",
		}}},
	})

	forced, err := apply("from-b", "b", true)
	if err != nil {
		t.Fatalf("apply by b with force: %v", err)
	}
	if forced.Data["key"] != "from-b" || !managerOwnsKey(t, forced, "b") || managerOwnsKey(t, forced, "a") {
		t.Fatalf("forced apply by b: data %v, managedFields %v; want key=from-b owned by b alone", forced.Data, forced.ManagedFields)
	}
	wantNewVersion(t, "forced apply", first.ResourceVersion, forced.ResourceVersion)
}

// generationContract: kube-apiserver keeps metadata.generation per kind.
// Most built-in kinds keep none (0, whatever changes); the workload kinds and
// a few others start at 1 and count spec changes; a CSIDriver starts at 0 and
// counts them. Each object is created, its spec changed, then only its labels
// (again after a conflict, as controllers of the real server write status).
// The table is the in-memory server's, kind by kind.
func generationContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	unique := "conf-" + utilrand.String(8)
	in := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: ns} }
	cluster := func(kind string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: unique + "-" + kind} }
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}}
	pod := corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example"}}}
	template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: selector.MatchLabels}, Spec: pod}
	jobTemplate := *template.DeepCopy()
	jobTemplate.Spec.RestartPolicy = corev1.RestartPolicyNever
	var (
		none       = [3]int64{0, 0, 0}
		fromCreate = [3]int64{1, 2, 2}
		fromChange = [3]int64{0, 1, 1}
	)
	for _, k := range []struct {
		obj        client.Object
		changeSpec func(client.Object)
		want       [3]int64 // after create, after the spec change, after a label change
	}{
		{&coordinationv1.Lease{ObjectMeta: in("lease")},
			func(o client.Object) { o.(*coordinationv1.Lease).Spec.HolderIdentity = ptr.To("b") }, none},
		{&corev1.Service{ObjectMeta: in("service"), Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}},
			func(o client.Object) { o.(*corev1.Service).Spec.Ports[0].Port = 81 }, none},
		{&corev1.ResourceQuota{ObjectMeta: in("quota"), Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"pods": resource.MustParse("3")}}},
			func(o client.Object) { o.(*corev1.ResourceQuota).Spec.Hard["pods"] = resource.MustParse("4") }, none},
		{&corev1.LimitRange{ObjectMeta: in("limits"), Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: "Container", Max: corev1.ResourceList{"cpu": resource.MustParse("1")}}}}},
			func(o client.Object) { o.(*corev1.LimitRange).Spec.Limits[0].Max["cpu"] = resource.MustParse("2") }, none},
		{&corev1.PersistentVolume{ObjectMeta: cluster("pv"), Spec: corev1.PersistentVolumeSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Capacity: corev1.ResourceList{"storage": resource.MustParse("1Gi")}, PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data"}}}},
			func(o client.Object) {
				o.(*corev1.PersistentVolume).Spec.Capacity["storage"] = resource.MustParse("2Gi")
			}, none},
		{&corev1.Namespace{ObjectMeta: cluster("ns")},
			func(o client.Object) {
				o.(*corev1.Namespace).Spec.Finalizers = []corev1.FinalizerName{"kubernetes", "example.com/f"}
			}, none},
		{&corev1.Node{ObjectMeta: cluster("node")},
			func(o client.Object) { o.(*corev1.Node).Spec.Unschedulable = true }, none},
		{&appsv1.Deployment{ObjectMeta: in("deployment"), Spec: appsv1.DeploymentSpec{Selector: selector, Template: template}},
			func(o client.Object) { o.(*appsv1.Deployment).Spec.Replicas = ptr.To[int32](3) }, fromCreate},
		{&appsv1.ReplicaSet{ObjectMeta: in("replicaset"), Spec: appsv1.ReplicaSetSpec{Selector: selector, Template: template}},
			func(o client.Object) { o.(*appsv1.ReplicaSet).Spec.Replicas = ptr.To[int32](3) }, fromCreate},
		{&appsv1.StatefulSet{ObjectMeta: in("statefulset"), Spec: appsv1.StatefulSetSpec{Selector: selector, Template: template}},
			func(o client.Object) { o.(*appsv1.StatefulSet).Spec.Replicas = ptr.To[int32](3) }, fromCreate},
		{&appsv1.DaemonSet{ObjectMeta: in("daemonset"), Spec: appsv1.DaemonSetSpec{Selector: selector, Template: template}},
			func(o client.Object) { o.(*appsv1.DaemonSet).Spec.MinReadySeconds = 3 }, fromCreate},
		{&batchv1.Job{ObjectMeta: in("job"), Spec: batchv1.JobSpec{Template: jobTemplate}},
			func(o client.Object) { o.(*batchv1.Job).Spec.Parallelism = ptr.To[int32](3) }, fromCreate},
		{&batchv1.CronJob{ObjectMeta: in("cronjob"), Spec: batchv1.CronJobSpec{Schedule: "* * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: jobTemplate}}}},
			func(o client.Object) { o.(*batchv1.CronJob).Spec.Schedule = "*/2 * * * *" }, fromCreate},
		{&corev1.ReplicationController{ObjectMeta: in("rc"), Spec: corev1.ReplicationControllerSpec{Selector: selector.MatchLabels, Template: &template}},
			func(o client.Object) { o.(*corev1.ReplicationController).Spec.Replicas = ptr.To[int32](3) }, fromCreate},
		{&corev1.Pod{ObjectMeta: in("pod"), Spec: pod},
			func(o client.Object) { o.(*corev1.Pod).Spec.Containers[0].Image = "example2" }, fromCreate},
		{&networkingv1.NetworkPolicy{ObjectMeta: in("policy")},
			func(o client.Object) { o.(*networkingv1.NetworkPolicy).Spec.PodSelector = *selector }, fromCreate},
		{&networkingv1.Ingress{ObjectMeta: in("ingress"), Spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{
			Service: &networkingv1.IngressServiceBackend{Name: "s", Port: networkingv1.ServiceBackendPort{Number: 80}}}}},
			func(o client.Object) { o.(*networkingv1.Ingress).Spec.DefaultBackend.Service.Port.Number = 81 }, fromCreate},
		{&networkingv1.IngressClass{ObjectMeta: cluster("ingressclass"), Spec: networkingv1.IngressClassSpec{Controller: "example.com/c"}},
			func(o client.Object) {
				o.(*networkingv1.IngressClass).Spec.Parameters = &networkingv1.IngressClassParametersReference{Kind: "K", Name: "n", APIGroup: ptr.To("example.com"), Scope: ptr.To("Cluster")}
			}, fromCreate},
		{&policyv1.PodDisruptionBudget{ObjectMeta: in("pdb"), Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(1))}},
			func(o client.Object) {
				o.(*policyv1.PodDisruptionBudget).Spec.MinAvailable = ptr.To(intstr.FromInt32(2))
			}, fromCreate},
		{&autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: in("hpa"), Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "deployment"}, MaxReplicas: 3}},
			func(o client.Object) { o.(*autoscalingv2.HorizontalPodAutoscaler).Spec.MaxReplicas = 4 }, fromCreate},
		{&flowcontrolv1.PriorityLevelConfiguration{ObjectMeta: cluster("plc"), Spec: flowcontrolv1.PriorityLevelConfigurationSpec{Type: flowcontrolv1.PriorityLevelEnablementLimited,
			Limited: &flowcontrolv1.LimitedPriorityLevelConfiguration{NominalConcurrencyShares: ptr.To[int32](5), LimitResponse: flowcontrolv1.LimitResponse{Type: flowcontrolv1.LimitResponseTypeReject}}}},
			func(o client.Object) {
				o.(*flowcontrolv1.PriorityLevelConfiguration).Spec.Limited.NominalConcurrencyShares = ptr.To[int32](6)
			}, fromCreate},
		{&flowcontrolv1.FlowSchema{ObjectMeta: cluster("fs"), Spec: flowcontrolv1.FlowSchemaSpec{
			PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: unique + "-plc"}, MatchingPrecedence: 500}},
			func(o client.Object) { o.(*flowcontrolv1.FlowSchema).Spec.MatchingPrecedence = 600 }, fromCreate},
		{&admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: cluster("vap"), Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}}}}}},
			Validations: []admissionregistrationv1.Validation{{Expression: "true"}}}},
			func(o client.Object) {
				o.(*admissionregistrationv1.ValidatingAdmissionPolicy).Spec.Validations[0].Expression = "1 == 1"
			}, fromCreate},
		{&admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: cluster("vapb"), Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName: unique + "-vap", ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Warn}}},
			func(o client.Object) {
				o.(*admissionregistrationv1.ValidatingAdmissionPolicyBinding).Spec.ValidationActions = []admissionregistrationv1.ValidationAction{admissionregistrationv1.Audit}
			}, fromCreate},
		{&resourcev1.DeviceClass{ObjectMeta: cluster("deviceclass")},
			func(o client.Object) {
				o.(*resourcev1.DeviceClass).Spec.Selectors = []resourcev1.DeviceSelector{{CEL: &resourcev1.CELDeviceSelector{Expression: "true"}}}
			}, fromCreate},
		{&storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: unique + ".example.com"}},
			func(o client.Object) {
				o.(*storagev1.CSIDriver).Spec.NodeAllocatableUpdatePeriodSeconds = ptr.To[int64](20)
			}, fromChange},
	} {
		o := k.obj
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("%T: create: %v", o, err)
		}
		if o.GetNamespace() == "" {
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
				defer cancel()
				if err := c.Delete(ctx, o); err != nil {
					t.Errorf("delete %T %s: %v", o, o.GetName(), err)
				}
			})
		}
		var got [3]int64
		got[0] = o.GetGeneration()
		for i, change := range []func(client.Object){k.changeSpec, func(o client.Object) { o.SetLabels(map[string]string{"changed": "label"}) }} {
			if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				if err := c.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
					return err
				}
				change(o)
				return c.Update(ctx, o)
			}); err != nil {
				t.Fatalf("%T: update %d: %v", o, i+1, err)
			}
			got[i+1] = o.GetGeneration()
		}
		if got != k.want {
			t.Errorf("%T: generation after create, spec change, label change %v, want %v", o, got, k.want)
		}
	}
}

// statusContract: for a resource with a status subresource, an update of the
// main resource ignores status, an update of /status ignores everything but
// status; metadata.generation starts at 1 and counts spec changes only.
func statusContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	deployments := clientset(t, cfg).AppsV1().Deployments(ns)

	created, err := deployments.Create(ctx, newDeployment(ns, "status"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.Generation != 1 {
		t.Errorf("generation after create %d, want 1", created.Generation)
	}

	withStatus := created.DeepCopy()
	withStatus.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1}
	withStatus.Spec.Replicas = ptr.To[int32](5)
	statusUpdated, err := deployments.UpdateStatus(ctx, withStatus, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update of status: %v", err)
	}
	if statusUpdated.Status.Replicas != 1 || statusUpdated.Status.ObservedGeneration != 1 || *statusUpdated.Spec.Replicas != 1 || statusUpdated.Generation != 1 {
		t.Errorf("update of status: status %+v, spec.replicas %d, generation %d; want the new status, replicas 1, generation 1",
			statusUpdated.Status, *statusUpdated.Spec.Replicas, statusUpdated.Generation)
	}

	labelled := statusUpdated.DeepCopy()
	labelled.Labels = map[string]string{"changed": "label"}
	labelled.Status.Replicas = 7
	mainUpdated, err := deployments.Update(ctx, labelled, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update with a label and a status change: %v", err)
	}
	if mainUpdated.Status.Replicas != 1 || mainUpdated.Labels["changed"] != "label" || mainUpdated.Generation != 1 {
		t.Errorf("update with a label and a status change: status.replicas %d, labels %v, generation %d; want status unchanged (1), the label, generation 1",
			mainUpdated.Status.Replicas, mainUpdated.Labels, mainUpdated.Generation)
	}

	scaled := mainUpdated.DeepCopy()
	scaled.Spec.Replicas = ptr.To[int32](2)
	specUpdated, err := deployments.Update(ctx, scaled, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update of spec: %v", err)
	}
	if *specUpdated.Spec.Replicas != 2 || specUpdated.Generation != 2 || specUpdated.Status.Replicas != 1 {
		t.Errorf("update of spec: spec.replicas %d, generation %d, status.replicas %d; want 2, 2, 1",
			*specUpdated.Spec.Replicas, specUpdated.Generation, specUpdated.Status.Replicas)
	}

	stored, err := deployments.Get(ctx, "status", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !apiequality.Semantic.DeepEqual(stored, specUpdated) {
		t.Errorf("get after the updates differs from the last update's answer:\n got %+v\nwant %+v", stored, specUpdated)
	}
}

// finalizerContract: deleting an object with finalizers only marks it
// (deletionTimestamp); removing the last finalizer deletes it. A delete whose
// preconditions (uid, resourceVersion) do not match fails with 409 Conflict.
func finalizerContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cms := clientset(t, cfg).CoreV1().ConfigMaps(ns)

	held := newConfigMap(ns, "held", nil)
	held.Finalizers = []string{"leaderlab.io/hold"}
	if _, err := cms.Create(ctx, held, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "held", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete of an object with a finalizer: %v", err)
	}
	deleting, err := cms.Get(ctx, "held", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get after a delete of an object with a finalizer: %v", err)
	}
	if deleting.DeletionTimestamp == nil || !slices.Equal(deleting.Finalizers, []string{"leaderlab.io/hold"}) {
		t.Fatalf("after delete: deletionTimestamp %v, finalizers %v; want a deletionTimestamp and the finalizer", deleting.DeletionTimestamp, deleting.Finalizers)
	}
	deleting.Finalizers = nil
	if _, err := cms.Update(ctx, deleting, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update removing the finalizer: %v", err)
	}
	_, err = cms.Get(ctx, "held", metav1.GetOptions{})
	wantStatusFields(t, err, http.StatusNotFound, metav1.StatusReasonNotFound)

	guarded, err := cms.Create(ctx, newConfigMap(ns, "guarded", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The delete handler checks preconditions before the storage does, and
	// names the object by its kind (not its resource) in the message and the
	// details.
	wrongUID := types.UID("00000000-0000-0000-0000-000000000000")
	err = cms.Delete(ctx, "guarded", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &wrongUID}})
	wantStatus(t, err, metav1.Status{
		Code:   http.StatusConflict,
		Reason: metav1.StatusReasonConflict,
		Message: fmt.Sprintf(`Operation cannot be fulfilled on ConfigMap "guarded": the UID in the precondition (%s) does not match the UID in record (%s). The object might have been deleted and then recreated`,
			wrongUID, guarded.UID),
		Details: &metav1.StatusDetails{Name: "guarded", Kind: "ConfigMap"},
	})
	next := guarded.DeepCopy()
	next.Data = map[string]string{"k": "v"}
	current, err := cms.Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = cms.Delete(ctx, "guarded", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &guarded.ResourceVersion}})
	wantStatus(t, err, metav1.Status{
		Code:   http.StatusConflict,
		Reason: metav1.StatusReasonConflict,
		Message: fmt.Sprintf(`Operation cannot be fulfilled on ConfigMap "guarded": the ResourceVersion in the precondition (%s) does not match the ResourceVersion in record (%s). The object might have been modified`,
			guarded.ResourceVersion, current.ResourceVersion),
		Details: &metav1.StatusDetails{Name: "guarded", Kind: "ConfigMap"},
	})
	err = cms.Delete(ctx, "guarded", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &current.UID, ResourceVersion: &current.ResourceVersion}})
	if err != nil {
		t.Fatalf("delete with matching preconditions: %v", err)
	}
	_, err = cms.Get(ctx, "guarded", metav1.GetOptions{})
	wantStatusFields(t, err, http.StatusNotFound, metav1.StatusReasonNotFound)
}

// deletionContract: a delete that leaves an object to its finalizers counts
// as a change of it (a kind that keeps a generation adds one); no finalizer
// can be added to an object being deleted (422, kube-apiserver's metadata
// rule for every kind); a JSON patch that does not apply (a failed test op)
// is 422 with no detail.
func deletionContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cs := clientset(t, cfg)
	held := newDeployment(ns, "held")
	held.Finalizers = []string{"leaderlab.io/hold"}
	created, err := cs.AppsV1().Deployments(ns).Create(ctx, held, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.AppsV1().Deployments(ns).Delete(ctx, "held", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deleting, err := cs.AppsV1().Deployments(ns).Get(ctx, "held", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if deleting.Generation != created.Generation+1 {
		t.Errorf("generation %d after the delete, want %d (one more than at create)", deleting.Generation, created.Generation+1)
	}
	deleting.Finalizers = append(deleting.Finalizers, "leaderlab.io/late")
	_, err = cs.AppsV1().Deployments(ns).Update(ctx, deleting, metav1.UpdateOptions{})
	wantStatusFields(t, err, http.StatusUnprocessableEntity, metav1.StatusReasonInvalid)
	if want := `Deployment.apps "held" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"leaderlab.io/late"}`; err == nil || err.Error() != want {
		t.Errorf("adding a finalizer to a deleting object: %v, want %s", err, want)
	}
	deleting.Finalizers = nil
	if _, err := cs.AppsV1().Deployments(ns).Update(ctx, deleting, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("removing the finalizer: %v", err)
	}

	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, newConfigMap(ns, "patched", map[string]string{"k": "v"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = cs.CoreV1().ConfigMaps(ns).Patch(ctx, "patched", types.JSONPatchType,
		[]byte(`[{"op":"test","path":"/data/k","value":"other"},{"op":"replace","path":"/data/k","value":"w"}]`), metav1.PatchOptions{})
	wantStatus(t, err, metav1.Status{Code: http.StatusUnprocessableEntity, Reason: metav1.StatusReasonInvalid,
		Message: "the server rejected our request due to an error in our request", Details: &metav1.StatusDetails{}})
}

// dryRunContract: with dryRun=All a create, update, patch, server-side
// apply, status update and delete go through every check and answer what
// would be stored (a create at no resourceVersion, the others at the stored
// one), and store nothing: the objects read as before and no watch sees an
// event. Any other dryRun value is 422, naming the options.
func dryRunContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cs := clientset(t, cfg)
	cms := cs.CoreV1().ConfigMaps(ns)
	dry := []string{metav1.DryRunAll}
	base, err := cms.Create(ctx, newConfigMap(ns, "base", map[string]string{"k": "v"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: base.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	unchanged := func(what string) {
		t.Helper()
		got, err := cms.Get(ctx, "base", metav1.GetOptions{})
		if err != nil || got.ResourceVersion != base.ResourceVersion || !reflect.DeepEqual(got.Data, base.Data) || got.DeletionTimestamp != nil {
			t.Errorf("after a dry-run %s: %v, %v; want the object as created", what, describeObject(got), err)
		}
	}

	created, err := cms.Create(ctx, newConfigMap(ns, "dry", map[string]string{"k": "v"}), metav1.CreateOptions{DryRun: dry})
	if err != nil {
		t.Fatalf("dry-run create: %v", err)
	}
	if created.Name != "dry" || created.ResourceVersion != "" || created.UID == "" || created.CreationTimestamp.IsZero() {
		t.Errorf("dry-run create answered %s (uid %q, created %v), want the object with a uid and a creation time, at no resourceVersion", describeObject(created), created.UID, created.CreationTimestamp)
	}
	if _, err := cms.Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after a dry-run create, get: %v, want NotFound", err)
	}

	next := base.DeepCopy()
	next.Data = map[string]string{"k": "updated"}
	updated, err := cms.Update(ctx, next, metav1.UpdateOptions{DryRun: dry})
	if err != nil || updated.Data["k"] != "updated" || updated.ResourceVersion != base.ResourceVersion {
		t.Errorf("dry-run update answered %s, %v; want the new data at the stored resourceVersion %s", describeObject(updated), err, base.ResourceVersion)
	}
	unchanged("update")

	patched, err := cms.Patch(ctx, "base", types.MergePatchType, []byte(`{"data":{"k":"patched"}}`), metav1.PatchOptions{DryRun: dry})
	if err != nil || patched.Data["k"] != "patched" || patched.ResourceVersion != base.ResourceVersion {
		t.Errorf("dry-run patch answered %s, %v; want the new data at the stored resourceVersion %s", describeObject(patched), err, base.ResourceVersion)
	}
	unchanged("patch")

	applied, err := cms.Apply(ctx, corev1ac.ConfigMap("base", ns).WithData(map[string]string{"k": "applied"}), metav1.ApplyOptions{FieldManager: "dry", Force: true, DryRun: dry})
	if err != nil || applied.Data["k"] != "applied" {
		t.Errorf("dry-run apply answered %s, %v; want the applied data", describeObject(applied), err)
	}
	unchanged("apply")

	if err := cms.Delete(ctx, "base", metav1.DeleteOptions{DryRun: dry}); err != nil {
		t.Errorf("dry-run delete: %v", err)
	}
	unchanged("delete")

	deployments := cs.AppsV1().Deployments(ns)
	d, err := deployments.Create(ctx, newDeployment(ns, "dry-status"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Status.ObservedGeneration = 7
	status, err := deployments.UpdateStatus(ctx, d, metav1.UpdateOptions{DryRun: dry})
	if err != nil || status.Status.ObservedGeneration != 7 {
		t.Errorf("dry-run status update answered %v, %v; want observedGeneration 7", status.Status, err)
	}
	if got, err := deployments.Get(ctx, "dry-status", metav1.GetOptions{}); err != nil || got.Status.ObservedGeneration != 0 || got.ResourceVersion != d.ResourceVersion {
		t.Errorf("after a dry-run status update: %v, %v; want the status as created", got.Status, err)
	}

	_, err = cms.Create(ctx, newConfigMap(ns, "wet", nil), metav1.CreateOptions{DryRun: []string{"true"}})
	wantStatusFields(t, err, http.StatusUnprocessableEntity, metav1.StatusReasonInvalid)
	if want := `CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["true"]: supported values: "All"`; err == nil || err.Error() != want {
		t.Errorf("dryRun=true: %v, want %s", err, want)
	}

	// The first event the watch sees is a real write after all of them.
	real, err := cms.Create(ctx, newConfigMap(ns, "real", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, w); ev.Type != watch.Added || describeObject(ev.Object) != describeObject(real) {
		t.Errorf("watch after the dry runs: %s %s, want ADDED %s", ev.Type, describeObject(ev.Object), describeObject(real))
	}
}

// metadataOnlyContract: a client that asks for the metadata alone
// (client-go's metadata client: as=PartialObjectMetadata[List], in
// protobuf or JSON, and it decodes nothing else) gets PartialObjectMetadata
// for a get and for every watch event and PartialObjectMetadataList for a
// list, for built-in kinds and custom resources alike, with the object's
// metadata and resourceVersions.
func metadataOnlyContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cm := newConfigMap(ns, "meta", map[string]string{"k": "v"})
	cm.Labels = map[string]string{"app": "meta"}
	created, err := clientset(t, cfg).CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cms := mc.Resource(corev1.SchemeGroupVersion.WithResource("configmaps")).Namespace(ns)
	same := func(what string, got *metav1.PartialObjectMetadata) {
		t.Helper()
		if got.Name != "meta" || got.UID != created.UID || got.ResourceVersion != created.ResourceVersion || got.Labels["app"] != "meta" {
			t.Errorf("%s: %s uid %s rv %s labels %v; want the metadata of meta at %s", what, got.Name, got.UID, got.ResourceVersion, got.Labels, created.ResourceVersion)
		}
	}
	got, err := cms.Get(ctx, "meta", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("metadata get: %v", err)
	}
	same("metadata get", got)
	list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "app=meta"})
	if err != nil {
		t.Fatalf("metadata list: %v", err)
	}
	if len(list.Items) != 1 || list.ResourceVersion == "" {
		t.Fatalf("metadata list: %d items at %q; want one, with a resourceVersion", len(list.Items), list.ResourceVersion)
	}
	same("metadata list item", &list.Items[0])
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatalf("metadata watch: %v", err)
	}
	defer w.Stop()
	cm = created.DeepCopy()
	cm.Data = map[string]string{"k": "changed"}
	updated, err := clientset(t, cfg).CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, w)
	p, ok := ev.Object.(*metav1.PartialObjectMetadata)
	if ev.Type != watch.Modified || !ok || p.Name != "meta" || p.ResourceVersion != updated.ResourceVersion {
		t.Errorf("metadata watch: %s %T %s; want MODIFIED PartialObjectMetadata of meta at %s", ev.Type, ev.Object, describeObject(ev.Object), updated.ResourceVersion)
	}

	widgets := mc.Resource(widgetsResource).Namespace(ns)
	if _, err := dynamicClient(t, cfg).Resource(widgetsResource).Namespace(ns).Create(ctx, widget(t, "meta", `"spec":{"size":2}`), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wm, err := widgets.Get(ctx, "meta", metav1.GetOptions{})
	if err != nil || wm.Name != "meta" || wm.Generation != 1 {
		t.Errorf("metadata get of a custom resource: %+v, %v; want the metadata of meta at generation 1", wm, err)
	}
}

// freshServerContract: what kube-apiserver has before anyone writes: the
// four namespaces, the default/kubernetes Service it keeps for itself (it
// creates it within moments of starting), and discovery of exactly the
// group versions v1.37 serves: no removed or alpha versions, whatever
// client-go's scheme still has. The in-memory server does not serve the
// review and aggregation groups, as its package doc says.
func freshServerContract(t *testing.T, cfg *rest.Config, _ string) {
	ctx := rowContext(t)
	cs := clientset(t, cfg)
	for _, ns := range []string{"default", "kube-node-lease", "kube-public", "kube-system"} {
		if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			t.Errorf("namespace %s: %v", ns, err)
		}
	}
	var svc *corev1.Service
	deadline := time.Now().Add(eventTimeout)
	for {
		var err error
		if svc, err = cs.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{}); err == nil || time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("the kubernetes Service: %v", err)
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if p := svc.Spec.Ports; svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.ClusterIP == "" || len(p) != 1 || p[0].Name != "https" || p[0].Port != 443 ||
		p[0].Protocol != corev1.ProtocolTCP || svc.Labels["component"] != "apiserver" || svc.Labels["provider"] != "kubernetes" {
		t.Errorf("the kubernetes Service: %s %s %v labels %v; want a ClusterIP Service, port https 443/TCP, labelled component=apiserver provider=kubernetes",
			svc.Spec.Type, svc.Spec.ClusterIP, svc.Spec.Ports, svc.Labels)
	}

	groups, err := discoveryClient(t, cfg).ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	served := sets.New[string]()
	for _, g := range groups.Groups {
		if strings.Contains(g.Name, "leaderlab.io") {
			continue // the table's own CRDs
		}
		for _, v := range g.Versions {
			served.Insert(v.GroupVersion)
		}
	}
	want := sets.New("v1", "admissionregistration.k8s.io/v1", "apiextensions.k8s.io/v1", "apps/v1", "autoscaling/v1", "autoscaling/v2", "batch/v1",
		"certificates.k8s.io/v1", "coordination.k8s.io/v1", "discovery.k8s.io/v1", "events.k8s.io/v1",
		"flowcontrol.apiserver.k8s.io/v1", "networking.k8s.io/v1", "node.k8s.io/v1", "policy/v1",
		"rbac.authorization.k8s.io/v1", "resource.k8s.io/v1", "scheduling.k8s.io/v1", "storage.k8s.io/v1", "storagemigration.k8s.io/v1")
	notServedHere := sets.New("authentication.k8s.io/v1", "authorization.k8s.io/v1", "apiregistration.k8s.io/v1")
	if missing := want.Difference(served); missing.Len() > 0 {
		t.Errorf("discovery lacks %v", sets.List(missing))
	}
	if extra := served.Difference(want).Difference(notServedHere); extra.Len() > 0 {
		t.Errorf("discovery lists %v, which kube-apiserver v1.37 does not serve", sets.List(extra))
	}
}

// perKindContract: rules kube-apiserver keeps per kind. Names: RBAC's kinds
// take any path segment (capitals too), a Service a DNS label (no dots), most
// kinds a DNS subdomain. A namespace's finalize subresource sets its
// spec.finalizers, and a deleted namespace left without one goes. A
// Deployment's status write keeps the annotations it sets but not its
// labels.
func perKindContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cs := clientset(t, cfg)
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "Reader-" + ns, Namespace: ns}}
	if _, err := cs.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Errorf("a Role named with capitals: %v", err)
	}
	_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, newConfigMap(ns, "Capital", nil), metav1.CreateOptions{})
	wantStatusFields(t, err, http.StatusUnprocessableEntity, metav1.StatusReasonInvalid)
	service := func(name string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, service("1st"), metav1.CreateOptions{}); err != nil {
		t.Errorf("a Service named 1st (a DNS label): %v", err)
	}
	_, err = cs.CoreV1().Services(ns).Create(ctx, service("dotted.name"), metav1.CreateOptions{})
	wantStatusFields(t, err, http.StatusUnprocessableEntity, metav1.StatusReasonInvalid)
	if want := `Service "dotted.name" is invalid: metadata.name: Invalid value: "dotted.name": must not contain dots`; err == nil || err.Error() != want {
		t.Errorf("a Service named dotted.name: %v, want %s", err, want)
	}

	d, err := cs.AppsV1().Deployments(ns).Create(ctx, newDeployment(ns, "annotated"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Annotations = map[string]string{"leaderlab.io/note": "set by a status write"}
	d.Labels = map[string]string{"leaderlab.io/label": "set by a status write"}
	d.Status.ObservedGeneration = d.Generation
	written, err := cs.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if written.Annotations["leaderlab.io/note"] == "" || len(written.Labels) != 0 || written.Status.ObservedGeneration != d.Generation {
		t.Errorf("after a status write: annotations %v, labels %v, observedGeneration %d; want the annotation, no label, %d",
			written.Annotations, written.Labels, written.Status.ObservedGeneration, d.Generation)
	}

	doomed := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns + "-fin"}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, doomed, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Namespaces().Delete(ctx, doomed.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// With no controller manager the namespace stays Terminating until its
	// finalizer is taken off, as envtest's users do themselves.
	terminating, err := cs.CoreV1().Namespaces().Get(ctx, doomed.Name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	if err == nil {
		terminating.Spec.Finalizers = nil
		if _, err := cs.CoreV1().Namespaces().Finalize(ctx, terminating, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatalf("finalize: %v", err)
		}
	}
	deadline := time.Now().Add(eventTimeout)
	for {
		_, err := cs.CoreV1().Namespaces().Get(ctx, doomed.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s after finalize: %v, want NotFound", doomed.Name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// builtinSubresourcesContract: the subresources controllers write. A
// Deployment's scale reads and sets spec.replicas (and counts as a spec
// change); an eviction deletes a pod (PodDisruptionBudgets need
// kube-controller-manager's disruption controller, which neither server
// here runs); a binding assigns a pod to a node once; a
// certificate signing request's approval changes its conditions alone; a
// service account's token request is answered with a token.
func builtinSubresourcesContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cs := clientset(t, cfg)

	d, err := cs.AppsV1().Deployments(ns).Create(ctx, newDeployment(ns, "scaled"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := cs.AppsV1().Deployments(ns).GetScale(ctx, "scaled", metav1.GetOptions{})
	if err != nil || sc.Spec.Replicas != 1 || sc.Status.Selector != "app=scaled" || sc.ResourceVersion != d.ResourceVersion {
		t.Fatalf("get scale: %+v, %v; want 1 replica, selector app=scaled, at %s", sc, err, d.ResourceVersion)
	}
	sc.Spec.Replicas = 3
	if _, err := cs.AppsV1().Deployments(ns).UpdateScale(ctx, "scaled", sc, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update scale: %v", err)
	}
	if _, err := cs.AppsV1().Deployments(ns).UpdateScale(ctx, "scaled", sc, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("update scale from a stale read: %v, want a Conflict", err)
	}
	scaled, err := cs.AppsV1().Deployments(ns).Get(ctx, "scaled", metav1.GetOptions{})
	if err != nil || *scaled.Spec.Replicas != 3 || scaled.Generation != d.Generation+1 {
		t.Errorf("after scaling: %v replicas, generation %d, %v; want 3 at generation %d", scaled.Spec.Replicas, scaled.Generation, err, d.Generation+1)
	}

	pod := func(name string, labels map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.com/app:1"}}}}
	}
	pods := cs.CoreV1().Pods(ns)
	for _, p := range []*corev1.Pod{pod("evicted", nil), pod("bound", nil)} {
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := pods.EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "evicted", Namespace: ns}}); err != nil {
		t.Errorf("evict: %v", err)
	}
	if _, err := pods.Get(ctx, "evicted", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("an evicted pod: %v, want NotFound", err)
	}
	binding := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "bound", Namespace: ns}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}
	if err := pods.Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	bound, err := pods.Get(ctx, "bound", metav1.GetOptions{})
	if err != nil || bound.Spec.NodeName != "node-1" || !slices.ContainsFunc(bound.Status.Conditions, func(c corev1.PodCondition) bool {
		return c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue
	}) {
		t.Errorf("a bound pod: node %q, conditions %v, %v; want node-1, PodScheduled", bound.Spec.NodeName, bound.Status.Conditions, err)
	}
	binding.Target.Name = "node-2"
	if err := pods.Bind(ctx, binding, metav1.CreateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("a second binding: %v, want a Conflict", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "leaderlab"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csrs := cs.CertificatesV1().CertificateSigningRequests()
	csr, err := csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: ns + "-csr"},
		Spec: certificatesv1.CertificateSigningRequestSpec{Request: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: "kubernetes.io/kube-apiserver-client", Usages: []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = csrs.Delete(context.Background(), csr.Name, metav1.DeleteOptions{}) })
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "Test", Message: "approved by the table"})
	csr.Spec.Usages = []certificatesv1.KeyUsage{certificatesv1.UsageServerAuth} // not the approval's to change
	approved, err := csrs.UpdateApproval(ctx, csr.Name, csr, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	if len(approved.Status.Conditions) != 1 || approved.Status.Conditions[0].Type != certificatesv1.CertificateApproved ||
		!slices.Equal(approved.Spec.Usages, []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}) {
		t.Errorf("approved: conditions %v, usages %v; want Approved, the usages as created", approved.Status.Conditions, approved.Spec.Usages)
	}

	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot", Namespace: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "robot", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](1800)}}, metav1.CreateOptions{})
	if err != nil || tr.Status.Token == "" || tr.Status.ExpirationTimestamp.Time.Before(time.Now().Add(29*time.Minute)) {
		t.Errorf("token: %v, %v; want a token that expires in half an hour", tr, err)
	}
}

// builtinFieldValidationContract: a JSON body of a built-in kind with
// fields its type does not know is stored without them and warned of (the
// default, Warn), refused with 400 (Strict) or taken silently (Ignore).
func builtinFieldValidationContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	warnings := &warningLog{}
	cfg.WarningHandler = warnings
	rc, err := rest.RESTClientFor(func() *rest.Config {
		c := rest.CopyConfig(cfg)
		c.GroupVersion, c.APIPath = &corev1.SchemeGroupVersion, "/api"
		c.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
		c.ContentType = runtime.ContentTypeJSON
		return c
	}())
	if err != nil {
		t.Fatal(err)
	}
	body := func(name string) []byte {
		return []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + name + `","extraMeta":1},"data":{"k":"v"},"additionalField":true}`)
	}
	create := func(name, mode string) error {
		req := rc.Post().Namespace(ns).Resource("configmaps").Body(body(name))
		if mode != "" {
			req = req.Param("fieldValidation", mode)
		}
		return req.Do(ctx).Error()
	}
	for _, mode := range []string{"", metav1.FieldValidationWarn} {
		warnings.reset()
		name := "warned-" + strings.ToLower(cmp.Or(mode, "default"))
		if err := create(name, mode); err != nil {
			t.Fatalf("create with fieldValidation %q: %v", mode, err)
		}
		if got, want := warnings.get(), []string{`unknown field "additionalField"`, `unknown field "metadata.extraMeta"`}; !slices.Equal(got, want) {
			t.Errorf("create with fieldValidation %q: warnings %q, want %q", mode, got, want)
		}
	}
	warnings.reset()
	if err := create("ignored", metav1.FieldValidationIgnore); err != nil || len(warnings.get()) != 0 {
		t.Errorf("create with fieldValidation Ignore: %v, warnings %q; want no error and no warning", err, warnings.get())
	}
	err = create("strict", metav1.FieldValidationStrict)
	wantStatus(t, err, metav1.Status{Code: http.StatusBadRequest, Reason: metav1.StatusReasonBadRequest,
		Message: `ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "metadata.extraMeta", unknown field "additionalField"`})
}

// secretRulesContract: a Secret's stringData is stored in its data; its
// type never changes; an immutable ConfigMap's or Secret's data and
// immutable flag never change (422, kube-apiserver's words).
func secretRulesContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cs := clientset(t, cfg)
	secret, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: ns},
		Type: corev1.SecretTypeOpaque, StringData: map[string]string{"k": "v"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(secret.Data["k"]) != "v" || len(secret.StringData) != 0 {
		t.Errorf("a Secret created with stringData: data %q, stringData %v; want data k=v and no stringData", secret.Data, secret.StringData)
	}
	secret.Type = "leaderlab.io/custom"
	_, err = cs.CoreV1().Secrets(ns).Update(ctx, secret, metav1.UpdateOptions{})
	wantStatusFields(t, err, http.StatusUnprocessableEntity, metav1.StatusReasonInvalid)
	if want := `Secret "s" is invalid: type: Invalid value: "leaderlab.io/custom": field is immutable`; err == nil || err.Error() != want {
		t.Errorf("changing a Secret's type: %v, want %s", err, want)
	}
	cm := newConfigMap(ns, "frozen", map[string]string{"k": "v"})
	cm.Immutable = ptr.To(true)
	if cm, err = cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cm.Data["k"] = "changed"
	_, err = cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{})
	wantStatusFields(t, err, http.StatusUnprocessableEntity, metav1.StatusReasonInvalid)
	if want := "ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set"; err == nil || err.Error() != want {
		t.Errorf("changing an immutable ConfigMap's data: %v, want %s", err, want)
	}
}

// deleteCollectionContract: a delete of a collection deletes the objects
// its selector selects, and only those; one held by a finalizer is marked
// deleted instead.
func deleteCollectionContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cms := clientset(t, cfg).CoreV1().ConfigMaps(ns)
	for _, name := range []string{"a", "b", "held", "other"} {
		cm := newConfigMap(ns, name, nil)
		if name != "other" {
			cm.Labels = map[string]string{"batch": "1"}
		}
		if name == "held" {
			cm.Finalizers = []string{"leaderlab.io/hold"}
		}
		if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cms.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "batch=1"}); err != nil {
		t.Fatalf("deletecollection: %v", err)
	}
	list, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, cm := range list.Items {
		left = append(left, fmt.Sprintf("%s deleting=%v", cm.Name, cm.DeletionTimestamp != nil))
	}
	slices.Sort(left)
	if want := []string{"held deleting=true", "other deleting=false"}; !slices.Equal(left, want) {
		t.Errorf("after deletecollection of batch=1: %q, want %q", left, want)
	}
	held, err := cms.Get(ctx, "held", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	held.Finalizers = nil
	if _, err := cms.Update(ctx, held, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// garbageCollectionContract: with kube-controller-manager's garbage
// collector, a deleted owner's dependents go after it (background, the
// default); with propagationPolicy Foreground the owner stays, with a
// deletionTimestamp and the foregroundDeletion finalizer, until its
// dependents are gone, a blocking one held by its own finalizer included;
// with Orphan the dependents stay and lose their reference to it. An object
// whose owner never existed is deleted too.
func garbageCollectionContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cms := clientset(t, cfg).CoreV1().ConfigMaps(ns)
	create := func(name string, owner *corev1.ConfigMap, finalizers ...string) *corev1.ConfigMap {
		t.Helper()
		cm := newConfigMap(ns, name, nil)
		cm.Finalizers = finalizers
		if owner != nil {
			cm.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID, BlockOwnerDeletion: ptr.To(true)}}
		}
		created, err := cms.Create(ctx, cm, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return created
	}
	gone := func(name string) bool {
		_, err := cms.Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}
	del := func(name string, policy metav1.DeletionPropagation) {
		t.Helper()
		if err := cms.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
			t.Fatal(err)
		}
	}

	owner := create("bg-owner", nil)
	create("bg-child", owner)
	create("orphaned-at-birth", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "never", UID: "00000000-1111-2222-3333-444444444444"}})
	del("bg-owner", metav1.DeletePropagationBackground)
	eventually(t, "the background owner's child and the child of an owner that never was gone", func() bool { return gone("bg-child") && gone("orphaned-at-birth") })

	owner = create("fg-owner", nil)
	create("fg-child", owner, "leaderlab.io/hold")
	del("fg-owner", metav1.DeletePropagationForeground)
	eventually(t, "the foreground child marked deleted", func() bool {
		c, err := cms.Get(ctx, "fg-child", metav1.GetOptions{})
		return err == nil && c.DeletionTimestamp != nil
	})
	held, err := cms.Get(ctx, "fg-owner", metav1.GetOptions{})
	if err != nil || held.DeletionTimestamp == nil || !slices.Contains(held.Finalizers, metav1.FinalizerDeleteDependents) {
		t.Fatalf("the foreground owner while its child is held: %v, %v; want it deleting, with the foregroundDeletion finalizer", held, err)
	}
	child, err := cms.Get(ctx, "fg-child", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	child.Finalizers = nil
	if _, err := cms.Update(ctx, child, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the foreground owner gone after its child", func() bool { return gone("fg-child") && gone("fg-owner") })

	owner = create("orphan-owner", nil)
	create("orphan-child", owner)
	del("orphan-owner", metav1.DeletePropagationOrphan)
	eventually(t, "the orphaning owner gone", func() bool { return gone("orphan-owner") })
	orphan, err := cms.Get(ctx, "orphan-child", metav1.GetOptions{})
	if err != nil || len(orphan.OwnerReferences) != 0 {
		t.Errorf("the orphan: %v, %v; want it kept, with no owner reference", orphan, err)
	}
}

// namespaceDeletionContract: with kube-controller-manager's namespace
// controller, a deleted namespace is Terminating, refuses new objects with
// 403, has its objects deleted and then goes (kube-controller-manager waits
// 5 s before it starts on a deleted namespace).
func namespaceDeletionContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cs := clientset(t, cfg)
	doomed := ns + "-doomed"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: doomed}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps(doomed).Create(ctx, newConfigMap(doomed, "content", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Namespaces().Delete(ctx, doomed, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := cs.CoreV1().Namespaces().Get(ctx, doomed, metav1.GetOptions{})
	if err != nil || got.Status.Phase != corev1.NamespaceTerminating {
		t.Fatalf("the deleted namespace: %v, %v; want it Terminating", got, err)
	}
	_, err = cs.CoreV1().ConfigMaps(doomed).Create(ctx, newConfigMap(doomed, "late", nil), metav1.CreateOptions{})
	wantStatus(t, err, metav1.Status{Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden,
		Message: fmt.Sprintf(`configmaps "late" is forbidden: unable to create new content in namespace %s because it is being terminated`, doomed),
		Details: &metav1.StatusDetails{Name: "late", Kind: "configmaps", Causes: []metav1.StatusCause{{Type: "NamespaceTerminating", Message: fmt.Sprintf("namespace %s is being terminated", doomed), Field: "metadata.namespace"}}}})
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := cs.CoreV1().Namespaces().Get(ctx, doomed, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s still there after 30 s: %v", doomed, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := cs.CoreV1().ConfigMaps(doomed).Get(ctx, "content", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the namespace's content after it went: %v, want NotFound", err)
	}
}

// clusterScopeContract: cluster-scoped resources (ClusterRoles, Namespaces)
// live outside namespaces, and discovery says which resources are namespaced.
func clusterScopeContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cs := clientset(t, cfg)
	roles := cs.RbacV1().ClusterRoles()

	name := "conf-" + utilrand.String(8)
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"conformance": name}},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}},
	}
	created, err := roles.Create(ctx, role, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
		defer cancel()
		if err := roles.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete ClusterRole %s: %v", name, err)
		}
	})
	if created.Namespace != "" {
		t.Errorf("ClusterRole created with namespace %q, want none", created.Namespace)
	}
	got, err := roles.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.UID != created.UID || !reflect.DeepEqual(got.Rules, role.Rules) {
		t.Errorf("get of the ClusterRole: uid %s, rules %v; want %s, %v", got.UID, got.Rules, created.UID, role.Rules)
	}
	list, err := roles.List(ctx, metav1.ListOptions{LabelSelector: "conformance=" + name})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != name {
		t.Errorf("list of ClusterRoles labelled conformance=%s: %d items, want the one", name, len(list.Items))
	}

	namespace, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if namespace.Namespace != "" {
		t.Errorf("namespace %s has metadata.namespace %q, want none", ns, namespace.Namespace)
	}

	disc := discoveryClient(t, cfg)
	for _, want := range []struct {
		groupVersion, resource string
		namespaced             bool
	}{
		{"v1", "namespaces", false},
		{"v1", "configmaps", true},
		{"apps/v1", "deployments", true},
		{"rbac.authorization.k8s.io/v1", "clusterroles", false},
	} {
		r := findResource(t, disc, want.groupVersion, want.resource)
		if r != nil && r.Namespaced != want.namespaced {
			t.Errorf("discovery: %s %s namespaced %v, want %v", want.groupVersion, want.resource, r.Namespaced, want.namespaced)
		}
	}
}

// discoveryContract: discovery lists the groups, resources, verbs and
// subresources the server serves and its version; controller-runtime's
// default (discovery-driven) RESTMapper works against it.
func discoveryContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	disc := discoveryClient(t, cfg)

	groups, err := disc.ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	served := map[string][]string{}
	for _, g := range groups.Groups {
		for _, v := range g.Versions {
			served[g.Name] = append(served[g.Name], v.GroupVersion)
		}
	}
	for group, version := range map[string]string{"": "v1", "apps": "apps/v1", "coordination.k8s.io": "coordination.k8s.io/v1"} {
		if !slices.Contains(served[group], version) {
			t.Errorf("ServerGroups: group %q has versions %v, want %s among them", group, served[group], version)
		}
	}

	if cm := findResource(t, disc, "v1", "configmaps"); cm != nil {
		for _, verb := range []string{"get", "list", "watch", "create", "update", "patch", "delete"} {
			if !slices.Contains(cm.Verbs, verb) {
				t.Errorf("configmaps verbs %v lack %s", cm.Verbs, verb)
			}
		}
		if cm.Kind != "ConfigMap" {
			t.Errorf("configmaps kind %q, want ConfigMap", cm.Kind)
		}
	}
	if r := lookupResource(t, disc, "v1", "configmaps/status"); r != nil {
		t.Errorf("discovery lists configmaps/status %+v; ConfigMaps have no status subresource", r)
	}
	if r := findResource(t, disc, "apps/v1", "deployments/status"); r != nil && r.Kind != "Deployment" {
		t.Errorf("deployments/status kind %q, want Deployment", r.Kind)
	}

	version, err := disc.ServerVersion()
	if err != nil {
		t.Fatalf("ServerVersion: %v", err)
	}
	if version.GitVersion == "" {
		t.Errorf("ServerVersion answered %+v, with no gitVersion", version)
	}

	cm, err := clientset(t, cfg).CoreV1().ConfigMaps(ns).Create(ctx, newConfigMap(ns, "mapped", map[string]string{"k": "v"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatalf("controller-runtime client: %v", err)
	}
	var got corev1.ConfigMap
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "mapped"}, &got); err != nil {
		t.Fatalf("controller-runtime client get: %v", err)
	}
	if got.UID != cm.UID || !reflect.DeepEqual(got.Data, cm.Data) {
		t.Errorf("controller-runtime client got uid %s, data %v; want %s, %v", got.UID, got.Data, cm.UID, cm.Data)
	}
}

// metadataContract: the server sets uid and creationTimestamp on create; the
// JSON and protobuf encodings of the API carry the same object, in requests
// and responses, and the dynamic client sees it too.
func metadataContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)

	protoLog := &requestLog{}
	protoCfg := rest.CopyConfig(cfg)
	protoCfg.ContentType = runtime.ContentTypeProtobuf
	protoCfg.AcceptContentTypes = runtime.ContentTypeProtobuf
	protoCfg.Wrap(protoLog.wrap)
	jsonLog := &requestLog{}
	jsonCfg := rest.CopyConfig(cfg)
	jsonCfg.ContentType = runtime.ContentTypeJSON
	jsonCfg.AcceptContentTypes = runtime.ContentTypeJSON
	jsonCfg.Wrap(jsonLog.wrap)

	before := time.Now().Add(-time.Minute) // allow for clock skew
	created, err := clientset(t, protoCfg).CoreV1().ConfigMaps(ns).Create(ctx, newConfigMap(ns, "meta", map[string]string{"k": "v"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create through protobuf: %v", err)
	}
	if created.UID == "" || created.CreationTimestamp.Time.Before(before) || created.ResourceVersion == "" {
		t.Errorf("created object has uid %q, creationTimestamp %v, resourceVersion %q; want all set, the time now", created.UID, created.CreationTimestamp, created.ResourceVersion)
	}
	viaProto, err := clientset(t, protoCfg).CoreV1().ConfigMaps(ns).Get(ctx, "meta", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get through protobuf: %v", err)
	}
	viaJSON, err := clientset(t, jsonCfg).CoreV1().ConfigMaps(ns).Get(ctx, "meta", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get through JSON: %v", err)
	}
	if !apiequality.Semantic.DeepEqual(viaProto, viaJSON) || !apiequality.Semantic.DeepEqual(created, viaJSON) {
		t.Errorf("the encodings disagree:\ncreated   %+v\nprotobuf  %+v\nJSON      %+v", created, viaProto, viaJSON)
	}
	for _, l := range []struct {
		log  *requestLog
		want string
	}{{protoLog, runtime.ContentTypeProtobuf}, {jsonLog, runtime.ContentTypeJSON}} {
		if len(l.log.contentTypes()) == 0 {
			t.Errorf("the client asking for %s saw no responses", l.want)
		}
		for _, ct := range l.log.contentTypes() {
			if ct != l.want {
				t.Errorf("a client asking for %s got a response of type %s", l.want, ct)
			}
		}
	}

	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	u, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(ns).Get(ctx, "meta", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("dynamic get: %v", err)
	}
	if u.GetUID() != created.UID || u.GetResourceVersion() != created.ResourceVersion || u.GetKind() != "ConfigMap" || u.GetAPIVersion() != "v1" {
		t.Errorf("dynamic client sees %s %s uid %s resourceVersion %s; want v1 ConfigMap %s %s",
			u.GetAPIVersion(), u.GetKind(), u.GetUID(), u.GetResourceVersion(), created.UID, created.ResourceVersion)
	}
}

// badRequestContract: a patch of an unsupported type is 415
// UnsupportedMediaType; a body that does not decode is 400 BadRequest; both
// answer with a Status object (API conventions, "Response Status Kind").
// kube-apiserver's messages are left out: "415: Unsupported Media Type" comes
// from its HTTP router, and the 400 one quotes Go's JSON parser.
func badRequestContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cfg.AcceptContentTypes = runtime.ContentTypeJSON
	cs := clientset(t, cfg)
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, newConfigMap(ns, "target", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rc := cs.CoreV1().RESTClient()

	unknown := rc.Patch(types.PatchType("application/x-unknown-patch")).Namespace(ns).Resource("configmaps").Name("target").
		Body([]byte(`{"data":{"k":"v"}}`)).Do(ctx)
	wantErrorResponse(t, "a patch of type application/x-unknown-patch", unknown, http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType)

	malformed := rc.Post().Namespace(ns).Resource("configmaps").SetHeader("Content-Type", runtime.ContentTypeJSON).
		Body([]byte(`{not json`)).Do(ctx)
	wantErrorResponse(t, "a create with the body {not json", malformed, http.StatusBadRequest, metav1.StatusReasonBadRequest)
}

// Helpers.

// createNamespace creates a fresh namespace conf-<random> and deletes it when
// the test ends.
func createNamespace(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	namespaces := clientset(t, cfg).CoreV1().Namespaces()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	ns, err := namespaces.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "conf-" + utilrand.String(5)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
		defer cancel()
		if err := namespaces.Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete namespace %s: %v", ns.Name, err)
		}
	})
	return ns.Name
}

// rowContext returns a context that bounds a row and ends with it.
func rowContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), rowTimeout)
	t.Cleanup(cancel)
	return ctx
}

func clientset(t *testing.T, cfg *rest.Config) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func discoveryClient(t *testing.T, cfg *rest.Config) *discovery.DiscoveryClient {
	t.Helper()
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return disc
}

// lookupResource returns the resource (or "resource/subresource") named in
// groupVersion's discovery document, or nil.
func lookupResource(t *testing.T, disc discovery.DiscoveryInterface, groupVersion, name string) *metav1.APIResource {
	t.Helper()
	list, err := disc.ServerResourcesForGroupVersion(groupVersion)
	if err != nil {
		t.Fatalf("discovery of %s: %v", groupVersion, err)
	}
	for i := range list.APIResources {
		if list.APIResources[i].Name == name {
			return &list.APIResources[i]
		}
	}
	return nil
}

// findResource is lookupResource that reports a missing resource as an error.
func findResource(t *testing.T, disc discovery.DiscoveryInterface, groupVersion, name string) *metav1.APIResource {
	t.Helper()
	r := lookupResource(t, disc, groupVersion, name)
	if r == nil {
		t.Errorf("discovery of %s lists no %s", groupVersion, name)
	}
	return r
}

func newConfigMap(ns, name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
}

// newDeployment returns a valid Deployment of one replica.
func newDeployment(ns, name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.com/app:1"}}},
			},
		},
	}
}

// wantStatus checks that err is an API error whose Status is want, field by
// field (want.Status defaults to Failure).
// tooLargeContract: a get or list that names a resourceVersion the server
// has not reached (kube-apiserver's watch cache, after waiting 3 s for it)
// is 504 Timeout "Too large resource version: ASKED, current: HAD", with the
// cause ResourceVersionTooLarge and a Retry-After of 1 s, header included,
// on which client-go's REST client asks again: what a lagging replica of an
// HA control plane answers, and the simulator's lagging replica too.
func tooLargeContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cs := clientset(t, cfg)
	created, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, newConfigMap(ns, "ahead", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	have, err := strconv.ParseUint(created.ResourceVersion, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	asked := strconv.FormatUint(have+1_000_000, 10)
	for _, name := range []string{"ahead", ""} { // a get, a list
		req := cs.CoreV1().RESTClient().Get().Namespace(ns).Resource("configmaps").Param("resourceVersion", asked).MaxRetries(0)
		if name != "" {
			req = req.Name(name)
		}
		res := req.Do(ctx)
		var code int
		res.StatusCode(&code)
		var status apierrors.APIStatus
		if !errors.As(res.Error(), &status) {
			t.Fatalf("read %q at resourceVersion %s: %v, want 504", name, asked, res.Error())
		}
		st := status.Status()
		prefix := "Timeout: Too large resource version: " + asked + ", current: "
		current, perr := strconv.ParseUint(strings.TrimPrefix(st.Message, prefix), 10, 64)
		if code != http.StatusGatewayTimeout || st.Code != http.StatusGatewayTimeout || st.Reason != metav1.StatusReasonTimeout || !strings.HasPrefix(st.Message, prefix) || perr != nil || current < have ||
			st.Details == nil || st.Details.RetryAfterSeconds != 1 || len(st.Details.Causes) != 1 || st.Details.Causes[0].Type != metav1.CauseTypeResourceVersionTooLarge {
			t.Errorf("read %q at resourceVersion %s: %d %s, want 504 Timeout %q<a version at least %d>, Retry-After 1, cause %s",
				name, asked, code, toJSON(st), prefix, have, metav1.CauseTypeResourceVersionTooLarge)
		}
		if retryAfter := retryAfterHeader(t, cfg, req.URL().String()); retryAfter != "1" {
			t.Errorf("read %q at resourceVersion %s: Retry-After header %q, want 1", name, asked, retryAfter)
		}
	}
	if got, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "ahead", metav1.GetOptions{ResourceVersion: created.ResourceVersion}); err != nil || got.ResourceVersion != created.ResourceVersion {
		t.Errorf("get at its own resourceVersion: %v, %v", got, err)
	}
}

// retryAfterHeader sends a GET of url with cfg's transport and returns its
// answer's Retry-After header.
func retryAfterHeader(t *testing.T, cfg *rest.Config, url string) string {
	t.Helper()
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(rowContext(t), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.Header.Get("Retry-After")
}

func wantStatus(t *testing.T, err error, want metav1.Status) {
	t.Helper()
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		t.Errorf("got error %v (%T), want the API status %d %s", err, err, want.Code, want.Reason)
		return
	}
	got := status.Status()
	got.TypeMeta, got.ListMeta = metav1.TypeMeta{}, metav1.ListMeta{}
	if want.Status == "" {
		want.Status = metav1.StatusFailure
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("error status:\n got %s\nwant %s", toJSON(got), toJSON(want))
	}
}

// wantStatusFields checks that err is an API error of the given code and
// reason.
func wantStatusFields(t *testing.T, err error, code int32, reason metav1.StatusReason) {
	t.Helper()
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		t.Errorf("got error %v (%T), want the API status %d %s", err, err, code, reason)
		return
	}
	if got := status.Status(); got.Status != metav1.StatusFailure || got.Code != code || got.Reason != reason {
		t.Errorf("error status %s, want status Failure, code %d, reason %s", toJSON(got), code, reason)
	}
}

// wantErrorResponse checks that the request's result is an API error of the
// given code and reason, and that the server said so in a Status object.
func wantErrorResponse(t *testing.T, what string, result rest.Result, code int32, reason metav1.StatusReason) {
	t.Helper()
	wantStatusFields(t, result.Error(), code, reason)
	body, _ := result.Raw()
	var status metav1.Status
	if err := json.Unmarshal(body, &status); err != nil || status.Kind != "Status" || status.APIVersion != "v1" ||
		status.Status != metav1.StatusFailure || status.Code != code || status.Reason != reason {
		t.Errorf("%s: response body %q, want a v1 Status, Failure, code %d, reason %s", what, body, code, reason)
	}
}

func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

func wantNewVersion(t *testing.T, what, before, after string) {
	t.Helper()
	if after == "" || after == before {
		t.Errorf("%s: resourceVersion %q after %q, want a new one", what, after, before)
	}
}

// managerOwnsKey reports whether manager's managedFields entry owns .data.key.
func managerOwnsKey(t *testing.T, cm *corev1.ConfigMap, manager string) bool {
	t.Helper()
	for _, entry := range cm.ManagedFields {
		if entry.Manager != manager || entry.FieldsV1 == nil {
			continue
		}
		var fields map[string]map[string]any
		if err := json.Unmarshal(entry.FieldsV1.Raw, &fields); err != nil {
			t.Fatalf("managedFields of %s: %v", manager, err)
		}
		if _, ok := fields["f:data"]["f:key"]; ok {
			return true
		}
	}
	return false
}

// nextEvent returns w's next event, failing the test if none comes within
// eventTimeout or the watch ends.
func nextEvent(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	timer := time.NewTimer(eventTimeout)
	defer timer.Stop()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("the watch ended before the next event")
		}
		return ev
	case <-timer.C:
		t.Fatalf("no watch event within %v", eventTimeout)
	}
	panic("unreachable")
}

// wantEvent checks that w's next event is of type typ for the ConfigMap name,
// at resourceVersion rv and with data k=value (each unless empty), and
// returns the ConfigMap.
func wantEvent(t *testing.T, w watch.Interface, typ watch.EventType, name, rv, value string) *corev1.ConfigMap {
	t.Helper()
	ev := nextEvent(t, w)
	cm, ok := ev.Object.(*corev1.ConfigMap)
	if ev.Type != typ || !ok || cm.Name != name {
		t.Fatalf("got event %s %s, want %s of ConfigMap %s", ev.Type, describeObject(ev.Object), typ, name)
	}
	if rv != "" && cm.ResourceVersion != rv {
		t.Errorf("%s event of %s has resourceVersion %q, want %q", typ, name, cm.ResourceVersion, rv)
	}
	if value != "" && cm.Data["k"] != value {
		t.Errorf("%s event of %s has data %v, want k=%s", typ, name, cm.Data, value)
	}
	return cm
}

func describeObject(obj runtime.Object) string {
	if cm, ok := obj.(*corev1.ConfigMap); ok {
		return fmt.Sprintf("ConfigMap %s (resourceVersion %s)", cm.Name, cm.ResourceVersion)
	}
	return fmt.Sprintf("%T %s", obj, toJSON(obj))
}

// wantClosed checks that w ends (its result channel closes) within
// eventTimeout, with no further event.
func wantClosed(t *testing.T, w watch.Interface) {
	t.Helper()
	timer := time.NewTimer(eventTimeout)
	defer timer.Stop()
	select {
	case ev, ok := <-w.ResultChan():
		if ok {
			t.Fatalf("got event %s %s, want the watch to end", ev.Type, describeObject(ev.Object))
		}
	case <-timer.C:
		t.Fatalf("the watch did not end within %v", eventTimeout)
	}
}

// requestLog records a client's requests and the content types of the
// responses, through rest.Config.Wrap.
type requestLog struct {
	mu        sync.Mutex
	requests  []string
	responses []string
}

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(r)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.requests = append(l.requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		if err == nil {
			ct, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
			l.responses = append(l.responses, ct)
		}
		return resp, err
	})
}

func (l *requestLog) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.requests)
}

func (l *requestLog) contentTypes() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.responses)
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// watchSelectionContract: a watch with a label selector sees an object that
// starts to match as ADDED and one that stops matching as DELETED, carrying
// the object as it was, at the new resourceVersion (the API concepts: a
// watch shows the changes to the selected set).
func watchSelectionContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cms := clientset(t, cfg).CoreV1().ConfigMaps(ns)
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "moving", Labels: map[string]string{"team": "a"}}, Data: map[string]string{"k": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{LabelSelector: "team=b", ResourceVersion: cm.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	cm.Labels["team"] = "b"
	in, err := cms.Update(ctx, cm, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantEvent(t, w, watch.Added, "moving", in.ResourceVersion, "1")
	in.Labels["team"] = "c"
	in.Data["k"] = "2"
	out, err := cms.Update(ctx, in, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	left := wantEvent(t, w, watch.Deleted, "moving", out.ResourceVersion, "1")
	if left.Labels["team"] != "b" {
		t.Errorf("the DELETED event carries labels %v, want the object as it last matched (team=b)", left.Labels)
	}
}

// uidContract: an update whose metadata.uid names another object (the one
// read before a delete and re-create, say) is a 409 Conflict, with or without
// a resourceVersion: the storage layer treats the UID as a precondition.
func uidContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cms := clientset(t, cfg).CoreV1().ConfigMaps(ns)
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "same-name"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stored := cm.UID
	cm.UID = "00000000-0000-0000-0000-000000000001"
	for _, rv := range []string{cm.ResourceVersion, ""} {
		cm.ResourceVersion = rv
		_, err := cms.Update(ctx, cm, metav1.UpdateOptions{})
		wantStatus(t, err, metav1.Status{
			Code:   http.StatusConflict,
			Reason: metav1.StatusReasonConflict,
			Message: fmt.Sprintf(`Operation cannot be fulfilled on configmaps "same-name": StorageError: invalid object, Code: 4, Key: /registry/configmaps/%s/same-name, `+
				"ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: %s, UID in object meta: %s", ns, cm.UID, stored),
			Details: &metav1.StatusDetails{Name: "same-name", Kind: "configmaps"},
		})
	}
}
