package apiserver

import (
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	apiversion "k8s.io/apimachinery/pkg/version"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/restmapper"

	"github.com/leaderlab/leaderlab/internal/precondition"
)

// resource is what the server knows about one resource of one group version.
type resource struct {
	gvr        schema.GroupVersionResource
	gvk        schema.GroupVersionKind
	singular   string
	namespaced bool
	// status is true for kinds with a status subresource: a Status field
	// beside Spec, as kube-apiserver registers them.
	status bool
	// generation is how metadata.generation of the kind's objects moves.
	generation generation
	// typed is false for kinds known only by GVK or defined by a CRD: stored
	// as unstructured.
	typed bool
	// protobuf is true for the built-in kinds, which kube-apiserver serves
	// in protobuf; every other kind is JSON only, as custom resources are.
	protobuf bool
	// listKind is the kind of the resource's lists when it is not kind+List
	// (a CRD's spec.names.listKind).
	listKind string
	// custom holds the rules of a CRD-defined resource; nil for the others.
	custom *custom
	// stored is the resource whose store keeps this one's objects when it
	// is not gvr: the storage version of a CRD with several versions.
	stored schema.GroupVersionResource
}

// storeGVR is where the resource's objects are stored.
func (r *resource) storeGVR() schema.GroupVersionResource {
	if r.stored.Empty() {
		return r.gvr
	}
	return r.stored
}

// converts reports whether the resource's objects are stored at another
// version than it serves.
func (r *resource) converts() bool { return r.stored != r.gvr && !r.stored.Empty() }

// served is a stored object (a shared revision or a copy) as r answers it:
// at r's version.
func (r *resource) served(obj runtime.Object) runtime.Object {
	if !r.converts() {
		return obj
	}
	if shared, ok := obj.(sharedObject); ok {
		shared.as = r.custom
		return shared
	}
	return r.custom.convert(obj)
}

// fromStorage is a copy of a stored object at r's version, for a caller
// to change.
func (r *resource) fromStorage(obj runtime.Object) runtime.Object {
	if !r.converts() {
		return obj.DeepCopyObject()
	}
	return r.custom.convert(obj)
}

// toStorage converts obj, at r's version, to the version it is stored at.
func (r *resource) toStorage(obj runtime.Object) runtime.Object {
	if !r.converts() {
		return obj
	}
	u := obj.(*unstructured.Unstructured)
	u.SetAPIVersion(r.stored.GroupVersion().String())
	return u
}

// clusterScoped are the built-in kinds of client-go's scheme that are not
// namespaced. The scheme does not record scope; kube-apiserver's registry
// does, and this list follows it.
var clusterScoped = sets.New(
	"Namespace", "Node", "PersistentVolume", "ComponentStatus",
	"ClusterRole", "ClusterRoleBinding",
	"StorageClass", "CSIDriver", "CSINode", "VolumeAttachment", "VolumeAttributesClass",
	"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
	"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
	"MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding",
	"PriorityClass", "RuntimeClass", "CertificateSigningRequest", "ClusterTrustBundle",
	"IngressClass", "IPAddress", "ServiceCIDR",
	"FlowSchema", "PriorityLevelConfiguration",
	"TokenReview", "SubjectAccessReview", "SelfSubjectAccessReview", "SelfSubjectRulesReview", "SelfSubjectReview",
	"DeviceClass", "ResourceSlice", "DeviceTaintRule", "StorageVersion", "StorageVersionMigration",
	"CustomResourceDefinition", "APIService",
)

// generation is how kube-apiserver's registry keeps metadata.generation of
// a kind. Most built-in kinds leave it at 0; the workload kinds and a few
// others set 1 on create and add 1 on each change of spec, as custom
// resources do.
type generation int

const (
	noGeneration         generation = iota
	generationFromCreate            // 1 on create, +1 on each spec change
	generationFromChange            // 0 on create, +1 on each spec change
)

// builtinGeneration are the built-in kinds of client-go's scheme that keep a
// generation, each as kube-apiserver v1.37 does; every other built-in kind
// keeps none. The conformance suite checks every kind named here, and seven
// built-in kinds that keep none, against kube-apiserver.
var builtinGeneration = func() map[schema.GroupKind]generation {
	m := map[schema.GroupKind]generation{{Group: "storage.k8s.io", Kind: "CSIDriver"}: generationFromChange}
	for group, kinds := range map[string][]string{
		"":                             {"Pod", "ReplicationController"},
		"apps":                         {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"},
		"batch":                        {"Job", "CronJob"},
		"networking.k8s.io":            {"NetworkPolicy", "Ingress", "IngressClass"},
		"policy":                       {"PodDisruptionBudget"},
		"autoscaling":                  {"HorizontalPodAutoscaler"},
		"flowcontrol.apiserver.k8s.io": {"FlowSchema", "PriorityLevelConfiguration"},
		"admissionregistration.k8s.io": {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"},
		"resource.k8s.io":              {"DeviceClass"},
	} {
		for _, kind := range kinds {
			m[schema.GroupKind{Group: group, Kind: kind}] = generationFromCreate
		}
	}
	return m
}()

// servedVersions are the group versions of client-go's scheme that
// kube-apiserver v1.37 serves; client-go's scheme also has versions it no
// longer serves (apps/v1beta1, batch/v1beta1, ...), and alpha and beta
// versions off by default. The conformance table checks this list against
// kube-apiserver's discovery.
var servedVersions = sets.New(
	"v1", "admissionregistration.k8s.io/v1", "apps/v1", "autoscaling/v1", "autoscaling/v2", "batch/v1",
	"certificates.k8s.io/v1", "coordination.k8s.io/v1", "discovery.k8s.io/v1", "events.k8s.io/v1",
	"flowcontrol.apiserver.k8s.io/v1", "networking.k8s.io/v1", "node.k8s.io/v1", "policy/v1",
	"rbac.authorization.k8s.io/v1", "resource.k8s.io/v1", "scheduling.k8s.io/v1", "storage.k8s.io/v1",
	"storagemigration.k8s.io/v1",
)

// generationOf is a kind's generation rule: the built-in table for
// client-go's kinds, custom resources' rule (1 on create) for every other.
func generationOf(gvk schema.GroupVersionKind) generation {
	if clientgoscheme.Scheme.Recognizes(gvk) {
		return builtinGeneration[gvk.GroupKind()]
	}
	return generationFromCreate
}

// noStatus are kinds with a Status field that kube-apiserver serves without
// a status subresource.
var noStatus = sets.New("ComponentStatus", "Binding", "Eviction", "Scale")

// resources is the server's resource table: from the scheme's kinds with
// object metadata, and the kinds registered by GVK alone.
type resources struct {
	byGVR map[schema.GroupVersionResource]*resource
	// groups lists every group's versions, preferred first.
	groups map[string][]string
}

// newResources builds the table from the scheme, then the extra kinds,
// which take the place of a scheme's kind of the same resource (a CRD's
// resource is served by its rules, whatever Go type the scheme has for it).
func newResources(scheme *runtime.Scheme, extra []resource) *resources {
	rs := &resources{byGVR: make(map[schema.GroupVersionResource]*resource), groups: make(map[string][]string)}
	for _, r := range schemeResources(scheme) {
		rs.add(r)
	}
	for i := range extra {
		r := extra[i]
		rs.add(&r)
	}
	for g, versions := range rs.groups {
		slices.SortFunc(versions, func(a, b string) int { return -apiversion.CompareKubeAwareVersionStrings(a, b) })
		rs.groups[g] = slices.Compact(versions)
	}
	return rs
}

// lastScheme is the scheme whose resources schemeResources gave last: a
// server per simulated run, and a new table on every CRD change, would
// otherwise walk a scheme of some 600 kinds each time.
var lastScheme atomic.Pointer[schemeTable]

// schemeTable is the resources of a scheme with a number of kinds: a scheme
// only gains kinds, so the two name its contents.
type schemeTable struct {
	scheme    *runtime.Scheme
	kinds     int
	resources []*resource // never changed once built
}

// schemeResources is the resources of the scheme's kinds that kube-apiserver
// would serve: those with object metadata and a list kind.
func schemeResources(scheme *runtime.Scheme) []*resource {
	known := scheme.AllKnownTypes()
	if t := lastScheme.Load(); t != nil && t.scheme == scheme && t.kinds == len(known) {
		return t.resources
	}
	var out []*resource
	for gvk, typ := range known {
		if gvk.Version == runtime.APIVersionInternal || strings.HasSuffix(gvk.Kind, "List") || gvk.Group == "meta.k8s.io" {
			continue
		}
		obj, err := scheme.New(gvk)
		if err != nil {
			continue
		}
		if _, err := meta.Accessor(obj); err != nil {
			continue
		}
		if _, err := scheme.New(gvk.GroupVersion().WithKind(gvk.Kind + "List")); err != nil {
			continue // not served as a resource (options, reviews without lists)
		}
		if clientgoscheme.Scheme.Recognizes(gvk) && !servedVersions.Has(gvk.GroupVersion().String()) {
			continue // a version kube-apiserver does not serve
		}
		plural, singular := meta.UnsafeGuessKindToResource(gvk)
		_, hasStatus := typ.FieldByName("Status")
		_, hasSpec := typ.FieldByName("Spec")
		out = append(out, &resource{gvr: plural, gvk: gvk, singular: singular.Resource, namespaced: !clusterScoped.Has(gvk.Kind),
			status: hasStatus && hasSpec && !noStatus.Has(gvk.Kind), generation: generationOf(gvk), typed: true,
			protobuf: clientgoscheme.Scheme.Recognizes(gvk)})
	}
	slices.SortFunc(out, func(a, b *resource) int { return strings.Compare(a.gvk.String(), b.gvk.String()) })
	lastScheme.Store(&schemeTable{scheme: scheme, kinds: len(known), resources: out})
	return out
}

func (rs *resources) add(r *resource) {
	rs.byGVR[r.gvr] = r
	rs.groups[r.gvr.Group] = append(rs.groups[r.gvr.Group], r.gvr.Version)
}

// kindOf is a resource's kind with its group version, for the objects it
// stores and the lists it answers.
func (r *resource) listGVK() schema.GroupVersionKind {
	if r.listKind != "" {
		return r.gvk.GroupVersion().WithKind(r.listKind)
	}
	return r.gvk.GroupVersion().WithKind(r.gvk.Kind + "List")
}

// groupResource names the resource in status errors, as kube-apiserver does.
func (r *resource) groupResource() schema.GroupResource { return r.gvr.GroupResource() }

// discovery documents.

func (rs *resources) apiVersions() *metav1.APIVersions {
	return &metav1.APIVersions{Versions: rs.groups[""]}
}

func (rs *resources) groupList() *metav1.APIGroupList {
	list := &metav1.APIGroupList{}
	names := make([]string, 0, len(rs.groups))
	for g := range rs.groups {
		if g != "" {
			names = append(names, g)
		}
	}
	slices.Sort(names)
	for _, g := range names {
		list.Groups = append(list.Groups, rs.group(g))
	}
	return list
}

func (rs *resources) group(g string) metav1.APIGroup {
	grp := metav1.APIGroup{Name: g}
	for _, v := range rs.groups[g] {
		grp.Versions = append(grp.Versions, metav1.GroupVersionForDiscovery{GroupVersion: schema.GroupVersion{Group: g, Version: v}.String(), Version: v})
	}
	grp.PreferredVersion = grp.Versions[0]
	return grp
}

var (
	verbsMain   = metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	verbsStatus = metav1.Verbs{"get", "patch", "update"}
)

func (rs *resources) resourceList(gv schema.GroupVersion) (*metav1.APIResourceList, bool) {
	list := &metav1.APIResourceList{GroupVersion: gv.String()}
	for gvr, r := range rs.byGVR {
		if gvr.GroupVersion() != gv {
			continue
		}
		main := metav1.APIResource{Name: gvr.Resource, SingularName: r.singular, Namespaced: r.namespaced, Kind: r.gvk.Kind, Verbs: verbsMain}
		if c := r.custom; c != nil {
			main.ShortNames, main.Categories = c.shortNames, c.categories
		}
		list.APIResources = append(list.APIResources, main)
		if r.status {
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: gvr.Resource + "/status", Namespaced: r.namespaced, Kind: r.gvk.Kind, Verbs: verbsStatus,
			})
		}
		for _, sub := range slices.Sorted(maps.Keys(builtinSubresources[gvr])) {
			res := builtinSubresources[gvr][sub]
			res.Name, res.Namespaced = gvr.Resource+"/"+sub, r.namespaced
			list.APIResources = append(list.APIResources, res)
		}
		if r.scalable() {
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: gvr.Resource + "/scale", Namespaced: r.namespaced, Group: "autoscaling", Version: "v1", Kind: "Scale", Verbs: verbsStatus,
			})
		}
	}
	if len(list.APIResources) == 0 {
		return nil, false
	}
	slices.SortFunc(list.APIResources, func(a, b metav1.APIResource) int { return strings.Compare(a.Name, b.Name) })
	return list, true
}

// APIGroupResources is the server's discovery as a discovery client reads
// it for restmapper.NewDiscoveryRESTMapper (restmapper.GetAPIGroupResources),
// without the round trips: a simulated run builds its managers' RESTMapper
// from it, since reading some thirty discovery documents over HTTP in every
// run costs more than the rest of a short run's start.
func (s *Server) APIGroupResources() []*restmapper.APIGroupResources {
	table := s.res()
	groups := table.groupList().Groups
	if len(table.groups[""]) > 0 { // the legacy group first, as a discovery client lists it
		groups = append([]metav1.APIGroup{table.group("")}, groups...)
	}
	var out []*restmapper.APIGroupResources
	for _, g := range groups {
		res := &restmapper.APIGroupResources{Group: g, VersionedResources: make(map[string][]metav1.APIResource)}
		for _, v := range g.Versions {
			if list, ok := table.resourceList(schema.GroupVersion{Group: g.Name, Version: v.Version}); ok {
				res.VersionedResources[v.Version] = list.APIResources
			}
		}
		out = append(out, res)
	}
	return out
}

// scalable reports whether r has a scale subresource.
func (r *resource) scalable() bool {
	_, ok := r.scalePaths()
	return ok
}

// storageKey is an object's key as kube-apiserver's storage names it in a
// precondition's message.
func (r *resource) storageKey(namespace, name string) string {
	if r.custom != nil {
		return precondition.Key(r.gvr.Group+"/"+r.gvr.Resource, namespace, name)
	}
	return precondition.Key(r.gvr.Resource, namespace, name)
}
