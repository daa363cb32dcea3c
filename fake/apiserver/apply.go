package apiserver

import (
	"errors"
	"fmt"
	"net/http"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured/unstructuredscheme"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/applyconfigurations"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
	"sigs.k8s.io/yaml"
)

// Server-side apply reuses apimachinery's field manager, as kube-apiserver
// does: the built-in kinds get client-go's schemas (the fields, list merge
// keys and atomic structs of the real API), kinds it does not know get
// schemas deduced from the object.

// typeConverter is client-go's for the kinds it knows, deduced for others.
type typeConverter struct {
	known   managedfields.TypeConverter
	deduced managedfields.TypeConverter
}

// ObjectToTyped types obj by its kind's schema: client-go's for its own
// kinds (a field it does not declare is an error, as on kube-apiserver),
// deduced from the object for the others.
func (c typeConverter) ObjectToTyped(obj runtime.Object, opts ...typed.ValidationOptions) (*typed.TypedValue, error) {
	if clientgoscheme.Scheme.Recognizes(obj.GetObjectKind().GroupVersionKind()) {
		return c.known.ObjectToTyped(obj, opts...)
	}
	return c.deduced.ObjectToTyped(obj, opts...)
}

func (c typeConverter) TypedToObject(tv *typed.TypedValue) (runtime.Object, error) {
	return c.deduced.TypedToObject(tv)
}

// noDefaults is the field manager's defaulter: the server sets no defaults.
type noDefaults struct{}

func (noDefaults) Default(runtime.Object) {}

// nopConvertor converts an unstructured object between the versions of its
// group by setting its apiVersion, as kube-apiserver converts custom
// resources with conversion strategy None.
type nopConvertor struct{}

func (nopConvertor) Convert(in, out, _ any) error {
	u, okIn := in.(runtime.Unstructured)
	o, okOut := out.(runtime.Unstructured)
	if !okIn || !okOut {
		return fmt.Errorf("unable to convert %T to %T: only unstructured objects convert", in, out)
	}
	o.SetUnstructuredContent(u.UnstructuredContent())
	return nil
}

func (nopConvertor) ConvertToVersion(in runtime.Object, target runtime.GroupVersioner) (runtime.Object, error) {
	gvk := in.GetObjectKind().GroupVersionKind()
	out, ok := target.KindForGroupVersionKinds([]schema.GroupVersionKind{gvk})
	if _, unstructured := in.(runtime.Unstructured); !ok || !unstructured {
		return nil, fmt.Errorf("unable to convert %v to %v", gvk, target)
	}
	in.GetObjectKind().SetGroupVersionKind(out)
	return in, nil
}

func (nopConvertor) ConvertFieldLabel(_ schema.GroupVersionKind, label, value string) (string, string, error) {
	return label, value, nil
}

// fieldManagers builds a field manager per kind once.
type fieldManagers struct {
	once  sync.Once
	tc    managedfields.TypeConverter
	mu    sync.Mutex
	byRes map[*resource]*managedfields.FieldManager
}

func (s *Server) fieldManager(r *resource, subresource string) (*managedfields.FieldManager, error) {
	fm := &s.managers
	fm.once.Do(func() {
		fm.tc = typeConverter{known: applyconfigurations.NewTypeConverter(s.scheme), deduced: managedfields.NewDeducedTypeConverter()}
		fm.byRes = make(map[*resource]*managedfields.FieldManager)
	})
	tc := fm.tc
	if r.custom != nil {
		tc = r.custom.typeConverter
	}
	// Kinds without a Go type are made and converted as unstructured objects.
	var convertor runtime.ObjectConvertor = s.scheme
	var creater runtime.ObjectCreater = s.scheme
	if !r.typed {
		convertor, creater = nopConvertor{}, unstructuredscheme.NewUnstructuredCreator()
	}
	if subresource != "" {
		return managedfields.NewDefaultFieldManager(tc, convertor, noDefaults{}, creater, r.gvk, r.gvk.GroupVersion(), subresource, nil)
	}
	fm.mu.Lock()
	defer fm.mu.Unlock()
	if m, ok := fm.byRes[r]; ok {
		return m, nil
	}
	m, err := managedfields.NewDefaultFieldManager(tc, convertor, noDefaults{}, creater, r.gvk, r.gvk.GroupVersion(), "", nil)
	if err != nil {
		return nil, err
	}
	fm.byRes[r] = m
	return m, nil
}

// apply is a server-side apply patch: the field manager merges the applied
// configuration into the live object (a new one if there is none) and
// answers 409 on a field another manager owns, unless forced.
func (s *Server) apply(req *http.Request, rt route, body []byte) (runtime.Object, int, error) {
	q := req.URL.Query()
	manager := first(q, "fieldManager")
	if manager == "" {
		return nil, 0, apierrors.NewBadRequest("PATCH requests with an apply patch require a fieldManager")
	}
	force := first(q, "force") == "true"
	j, err := yaml.YAMLToJSON(body)
	if err != nil {
		return nil, 0, apierrors.NewBadRequest(err.Error())
	}
	applied := &unstructured.Unstructured{}
	if err := applied.UnmarshalJSON(j); err != nil {
		return nil, 0, apierrors.NewBadRequest(err.Error())
	}
	if applied.GetName() != rt.name {
		return nil, 0, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", applied.GetName(), rt.name))
	}
	return s.applyObject(rt, applied, manager, force)
}

// applyObject is apply for a parsed configuration.
func (s *Server) applyObject(rt route, applied *unstructured.Unstructured, manager string, force bool) (runtime.Object, int, error) {
	mgr, err := s.fieldManager(rt.res, rt.subresource)
	if err != nil {
		return nil, 0, apierrors.NewInternalError(err)
	}
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	old, exists := s.currentLocked(rt)
	live := old
	if !exists {
		if rt.subresource != "" {
			return nil, 0, apierrors.NewNotFound(rt.res.groupResource(), rt.name)
		}
		if live, err = s.empty(rt.res); err != nil {
			return nil, 0, apierrors.NewInternalError(err)
		}
	} else {
		live = live.DeepCopyObject()
		live.GetObjectKind().SetGroupVersionKind(rt.res.gvk)
	}
	next, err := mgr.Apply(live, applied, manager, force)
	var status apierrors.APIStatus
	switch {
	case errors.As(err, &status): // a conflict
		return nil, 0, err
	case err != nil:
		// The configuration does not fit the kind's schema: kube-apiserver
		// answers 500 with the field manager's message and no reason
		// ("failed to create typed patch object (/name; /v1, Kind=ConfigMap):
		// .x: field not declared in schema"), and so does this server, which
		// lists it with its own server errors.
		return nil, 0, &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInternalServerError, Message: err.Error()}}
	}
	if c := rt.res.custom; c != nil {
		// What the apply made is read as a request body is: pruned and
		// defaulted by the schema.
		if _, err := c.coerce(next.(*unstructured.Unstructured), false); err != nil {
			return nil, 0, err
		}
	}
	if exists {
		obj, err := s.commitLocked(rt, old, next)
		return obj, http.StatusOK, err
	}
	m, _ := meta.Accessor(next)
	if err := s.placeIn(rt, m); err != nil {
		return nil, 0, err
	}
	m.SetResourceVersion("")
	if err := s.admitCreate(rt, next); err != nil {
		return nil, 0, err
	}
	if err := validName(rt.res, m); err != nil {
		return nil, 0, err
	}
	if rt.res.namespaced {
		if err := s.namespaceOpenLocked(rt.res.groupResource(), m.GetName(), rt.namespace); err != nil {
			return nil, 0, err
		}
	}
	m.SetResourceVersion("")
	s.stamp(rt.res, m)
	return s.writeLocked(rt, watch.Added, next), http.StatusCreated, nil
}

// empty is a new, empty object of r's kind.
func (s *Server) empty(r *resource) (runtime.Object, error) {
	if !r.typed {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(r.gvk)
		return u, nil
	}
	obj, err := s.scheme.New(r.gvk)
	if err == nil {
		obj.GetObjectKind().SetGroupVersionKind(r.gvk)
	}
	return obj, err
}

// trackUpdate records an update or patch by manager in the object's
// managedFields, so that later applies see who owns what. It runs only for
// objects that server-side apply has touched (they have managedFields): the
// field manager's cost is then paid only where ownership matters.
func (s *Server) trackUpdate(rt route, old, next runtime.Object, manager string) runtime.Object {
	om, _ := meta.Accessor(old)
	if len(om.GetManagedFields()) == 0 {
		return next
	}
	mgr, err := s.fieldManager(rt.res, rt.subresource)
	if err != nil {
		return next
	}
	live := old.DeepCopyObject()
	live.GetObjectKind().SetGroupVersionKind(rt.res.gvk)
	next.GetObjectKind().SetGroupVersionKind(rt.res.gvk)
	return mgr.UpdateNoErrors(live, next, manager)
}
