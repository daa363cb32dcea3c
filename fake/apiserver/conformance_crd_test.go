package apiserver_test

// Rows of the conformance table for custom resources: the CRDs in
// testdata/crds (Widget and Gadget, installed on both targets before the
// rows run) and CRDs created by a row. Every expectation, messages included,
// is what kube-apiserver v1.37.2 answered through envtest.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
)

const crdGroup = "conformance.leaderlab.io"

var (
	widgetsResource  = schema.GroupVersionResource{Group: crdGroup, Version: "v1", Resource: "widgets"}
	gadgetsV1        = schema.GroupVersionResource{Group: crdGroup, Version: "v1", Resource: "gadgets"}
	gadgetsV2        = schema.GroupVersionResource{Group: crdGroup, Version: "v2", Resource: "gadgets"}
	widgetAPIVersion = crdGroup + "/v1"
)

// defaultingContract: fields with a schema default are set when absent, on
// create and on every update (a field an update removes comes back with its
// default), at every depth: an object defaulted to {} gets its own
// properties' defaults, and so does one given with some of them.
func defaultingContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	widgets := dynamicClient(t, cfg).Resource(widgetsResource).Namespace(ns)

	created, err := widgets.Create(ctx, widget(t, "defaulted", `"spec":{"size":3}`), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantField(t, "create", created, `{"size":3,"color":"red","replicas":1,"nested":{"level":3,"tier":"gold"}}`, "spec")

	partial, err := widgets.Create(ctx, widget(t, "partial", `"spec":{"size":3,"color":"blue","nested":{"level":7}}`), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantField(t, "create with some nested fields", partial, `{"size":3,"color":"blue","replicas":1,"nested":{"level":7,"tier":"gold"}}`, "spec")

	next := created.DeepCopy()
	unstructured.RemoveNestedField(next.Object, "spec", "color")
	unstructured.RemoveNestedField(next.Object, "spec", "nested")
	if err := unstructured.SetNestedField(next.Object, int64(4), "spec", "replicas"); err != nil {
		t.Fatal(err)
	}
	updated, err := widgets.Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update removing defaulted fields: %v", err)
	}
	wantField(t, "update removing spec.color and spec.nested", updated, `{"size":3,"color":"red","replicas":4,"nested":{"level":3,"tier":"gold"}}`, "spec")

	patched, err := widgets.Patch(ctx, "partial", types.MergePatchType, []byte(`{"spec":{"color":null,"nested":{"tier":null}}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("merge patch removing defaulted fields: %v", err)
	}
	wantField(t, "merge patch removing spec.color and spec.nested.tier", patched, `{"size":3,"color":"red","replicas":1,"nested":{"level":7,"tier":"gold"}}`, "spec")

	got, err := widgets.Get(ctx, "partial", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Object, patched.Object) {
		t.Errorf("get after the patch differs from the patch's answer:\n got %s\nwant %s", toJSON(got.Object), toJSON(patched.Object))
	}
}

// pruningContract: fields the schema does not declare are dropped, at the
// top level and at any depth, on create, update and patch; under
// x-kubernetes-preserve-unknown-fields they are kept as sent.
func pruningContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	cfg.WarningHandler = rest.NoWarnings{} // unknown fields are warned about; see fieldValidationContract
	widgets := dynamicClient(t, cfg).Resource(widgetsResource).Namespace(ns)

	created, err := widgets.Create(ctx, widget(t, "pruned", `"extra":"top",`+
		`"spec":{"size":3,"unknown":"x","nested":{"level":1,"bogus":true},"preserved":{"anything":{"a":1},"list":[1,"two"]}},`+
		`"config":{"note":"n","stray":1}`), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, found := created.Object["extra"]; found {
		t.Errorf("create kept the undeclared top-level field extra: %s", toJSON(created.Object))
	}
	wantField(t, "create", created, `{"size":3,"color":"red","replicas":1,"nested":{"level":1,"tier":"gold"},"preserved":{"anything":{"a":1},"list":[1,"two"]}}`, "spec")
	wantField(t, "create", created, `{"note":"n"}`, "config")

	next := created.DeepCopy()
	for _, f := range []struct {
		value any
		path  []string
	}{
		{"y", []string{"spec", "unknown2"}},
		{"z", []string{"spec", "preserved", "more"}},
		{int64(2), []string{"extra"}},
	} {
		if err := unstructured.SetNestedField(next.Object, f.value, f.path...); err != nil {
			t.Fatal(err)
		}
	}
	updated, err := widgets.Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if _, found := updated.Object["extra"]; found {
		t.Errorf("update kept the undeclared top-level field extra: %s", toJSON(updated.Object))
	}
	wantField(t, "update", updated, `{"size":3,"color":"red","replicas":1,"nested":{"level":1,"tier":"gold"},"preserved":{"anything":{"a":1},"list":[1,"two"],"more":"z"}}`, "spec")

	patched, err := widgets.Patch(ctx, "pruned", types.MergePatchType, []byte(`{"spec":{"nested":{"bogus":1},"preserved":{"anything":{"b":2}}},"status":{"stray":true}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("merge patch: %v", err)
	}
	wantField(t, "merge patch", patched, `{"size":3,"color":"red","replicas":1,"nested":{"level":1,"tier":"gold"},"preserved":{"anything":{"a":1,"b":2},"list":[1,"two"],"more":"z"}}`, "spec")
	wantField(t, "merge patch", patched, ``, "status")
}

// fieldValidationContract: with fieldValidation Warn (the default) a
// create with undeclared fields succeeds, pruned, and the response carries
// a warning for each; with Strict it is 400 BadRequest naming each field;
// with Ignore it succeeds without a warning (kubectl asks for Strict).
func fieldValidationContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	warnings := &warningLog{}
	cfg.WarningHandler = warnings
	widgets := dynamicClient(t, cfg).Resource(widgetsResource).Namespace(ns)
	body := func(name string) *unstructured.Unstructured {
		return widget(t, name, `"extra":1,"spec":{"size":3,"unknown":"x","nested":{"bogus":true},"preserved":{"kept":1}}`)
	}

	for _, mode := range []string{"", metav1.FieldValidationWarn} {
		warnings.reset()
		name := "warned-" + strings.ToLower(cmp.Or(mode, "default"))
		created, err := widgets.Create(ctx, body(name), metav1.CreateOptions{FieldValidation: mode})
		if err != nil {
			t.Fatalf("create with fieldValidation %q: %v", mode, err)
		}
		wantField(t, "create with fieldValidation "+mode, created, `{"size":3,"color":"red","replicas":1,"nested":{"level":3,"tier":"gold"},"preserved":{"kept":1}}`, "spec")
		if got, want := warnings.get(), []string{`unknown field "extra"`, `unknown field "spec.nested.bogus"`, `unknown field "spec.unknown"`}; !slices.Equal(got, want) {
			t.Errorf("create with fieldValidation %q: warnings %q, want %q", mode, got, want)
		}
	}

	warnings.reset()
	if _, err := widgets.Create(ctx, body("ignored"), metav1.CreateOptions{FieldValidation: metav1.FieldValidationIgnore}); err != nil {
		t.Fatalf("create with fieldValidation Ignore: %v", err)
	}
	if got := warnings.get(); len(got) != 0 {
		t.Errorf("create with fieldValidation Ignore: warnings %q, want none", got)
	}

	warnings.reset()
	_, err := widgets.Create(ctx, body("strict"), metav1.CreateOptions{FieldValidation: metav1.FieldValidationStrict})
	wantStatus(t, err, metav1.Status{
		Code:    http.StatusBadRequest,
		Reason:  metav1.StatusReasonBadRequest,
		Message: `Widget in version "v1" cannot be handled as a Widget: strict decoding error: unknown field "extra", unknown field "spec.nested.bogus", unknown field "spec.unknown"`,
	})
	_, err = widgets.Get(ctx, "strict", metav1.GetOptions{})
	wantStatusFields(t, err, http.StatusNotFound, metav1.StatusReasonNotFound)
}

// schemaViolationContract: an object that breaks its OpenAPI schema
// (maximum, minimum, pattern, enum, required, type) is refused with 422
// Invalid, one cause per violation with its field path. A violation of
// enum, required or type keeps the CRD's CEL rules from running, and
// kube-apiserver says so in a cause of its own, with no field path.
func schemaViolationContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	widgets := dynamicClient(t, cfg).Resource(widgetsResource).Namespace(ns)
	celSkipped := metav1.StatusCause{Type: metav1.CauseTypeFieldValueInvalid, Field: "<nil>",
		Message: "Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"}
	for _, c := range []struct {
		name, spec string
		causes     []metav1.StatusCause
	}{
		{"too-big", `{"size":11}`, []metav1.StatusCause{{Type: metav1.CauseTypeFieldValueInvalid, Field: "spec.size",
			Message: `Invalid value: 11: spec.size in body should be less than or equal to 10`}}},
		{"too-small", `{"size":0}`, []metav1.StatusCause{{Type: metav1.CauseTypeFieldValueInvalid, Field: "spec.size",
			Message: `Invalid value: 0: spec.size in body should be greater than or equal to 1`}}},
		{"bad-code", `{"size":1,"code":"ABC"}`, []metav1.StatusCause{{Type: metav1.CauseTypeFieldValueInvalid, Field: "spec.code",
			Message: `Invalid value: "ABC": spec.code in body should match '^[a-z]+$'`}}},
		{"not-a-color", `{"size":1,"color":"purple"}`, []metav1.StatusCause{{Type: metav1.CauseTypeFieldValueNotSupported, Field: "spec.color",
			Message: `Unsupported value: "purple": supported values: "red", "green", "blue"`}, celSkipped}},
		{"no-size", `{"color":"red"}`, []metav1.StatusCause{{Type: metav1.CauseTypeFieldValueRequired, Field: "spec.size",
			Message: `Required value`}, celSkipped}},
		{"size-string", `{"size":"three"}`, []metav1.StatusCause{{Type: "FieldValueTypeInvalid", Field: "spec.size",
			Message: `Invalid value: "string": spec.size in body must be of type integer: "string"`}, celSkipped}},
	} {
		_, err := widgets.Create(ctx, widget(t, c.name, `"spec":`+c.spec), metav1.CreateOptions{})
		wantStatus(t, err, invalidStatus(crdGroup, "Widget", c.name, c.causes...))
	}
}

// celContract: x-kubernetes-validations rules refuse an invalid object with
// 422 Invalid and the rule's message (or the string its messageExpression
// computes); a transition rule (self == oldSelf) passes on create, refuses
// a change on update, and does not run when the update removes the field.
func celContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	widgets := dynamicClient(t, cfg).Resource(widgetsResource).Namespace(ns)
	invalid := func(name string, cause metav1.StatusCause) metav1.Status {
		return invalidStatus(crdGroup, "Widget", name, cause)
	}

	_, err := widgets.Create(ctx, widget(t, "min-max", `"spec":{"size":1,"min":5,"max":3}`), metav1.CreateOptions{})
	wantStatus(t, err, invalid("min-max", metav1.StatusCause{Type: metav1.CauseTypeFieldValueInvalid, Field: "spec",
		Message: `Invalid value: min must not exceed max`}))
	_, err = widgets.Create(ctx, widget(t, "teamless", `"spec":{"size":1,"team":"blue"}`), metav1.CreateOptions{})
	wantStatus(t, err, invalid("teamless", metav1.StatusCause{Type: metav1.CauseTypeFieldValueInvalid, Field: "spec.team",
		Message: `Invalid value: "blue": team must start with team-, not blue`}))
	if _, err := widgets.Create(ctx, widget(t, "valid", `"spec":{"size":1,"min":3,"max":5,"team":"team-blue"}`), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create satisfying every rule: %v", err)
	}

	fixed, err := widgets.Create(ctx, widget(t, "fixed", `"spec":{"size":1,"immutable":"a"}`), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create with the immutable field set: %v", err)
	}
	changed := fixed.DeepCopy()
	if err := unstructured.SetNestedField(changed.Object, "b", "spec", "immutable"); err != nil {
		t.Fatal(err)
	}
	_, err = widgets.Update(ctx, changed, metav1.UpdateOptions{})
	wantStatus(t, err, invalid("fixed", metav1.StatusCause{Type: metav1.CauseTypeFieldValueInvalid, Field: "spec.immutable",
		Message: `Invalid value: "b": immutable may not change`}))
	_, err = widgets.Patch(ctx, "fixed", types.MergePatchType, []byte(`{"spec":{"immutable":"c"}}`), metav1.PatchOptions{})
	wantStatus(t, err, invalid("fixed", metav1.StatusCause{Type: metav1.CauseTypeFieldValueInvalid, Field: "spec.immutable",
		Message: `Invalid value: "c": immutable may not change`}))

	same := fixed.DeepCopy()
	if err := unstructured.SetNestedField(same.Object, int64(2), "spec", "size"); err != nil {
		t.Fatal(err)
	}
	kept, err := widgets.Update(ctx, same, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update keeping the immutable field: %v", err)
	}
	removed, err := widgets.Patch(ctx, "fixed", types.MergePatchType, []byte(`{"spec":{"immutable":null}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("patch removing the immutable field: %v", err)
	}
	wantNewVersion(t, "patch removing the immutable field", kept.GetResourceVersion(), removed.GetResourceVersion())
	wantField(t, "patch removing the immutable field", removed, ``, "spec", "immutable")
}

// crdStatusContract: for a custom resource with a status subresource,
// create and updates of the main resource ignore status, and updates and
// patches of /status change status alone. metadata.generation starts at 1
// and counts every change outside metadata and status (not spec alone).
// For a custom resource without the subresource, status is an ordinary
// field: written by create and update, counted by generation, and /status
// is 404.
func crdStatusContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	dyn := dynamicClient(t, cfg)
	widgets := dyn.Resource(widgetsResource).Namespace(ns)
	check := func(what string, u *unstructured.Unstructured, generation int64, size int64, status string) {
		t.Helper()
		if u.GetGeneration() != generation {
			t.Errorf("%s: generation %d, want %d", what, u.GetGeneration(), generation)
		}
		wantField(t, what, u, fmt.Sprint(size), "spec", "size")
		wantField(t, what, u, status, "status")
	}

	created, err := widgets.Create(ctx, widget(t, "status", `"spec":{"size":3},"status":{"phase":"Ready","replicas":5}`), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	check("create with a status", created, 1, 3, ``)

	next := created.DeepCopy()
	next.SetLabels(map[string]string{"changed": "label"})
	if err := unstructured.SetNestedField(next.Object, "Ready", "status", "phase"); err != nil {
		t.Fatal(err)
	}
	labelled, err := widgets.Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update of a label and status: %v", err)
	}
	check("update of a label and status", labelled, 1, 3, ``)

	next = labelled.DeepCopy()
	if err := unstructured.SetNestedField(next.Object, int64(4), "spec", "size"); err != nil {
		t.Fatal(err)
	}
	specUpdated, err := widgets.Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update of spec: %v", err)
	}
	check("update of spec", specUpdated, 2, 4, ``)

	next = specUpdated.DeepCopy()
	if err := unstructured.SetNestedField(next.Object, "outside spec", "config", "note"); err != nil {
		t.Fatal(err)
	}
	configUpdated, err := widgets.Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update of a field outside spec: %v", err)
	}
	check("update of config.note", configUpdated, 3, 4, ``)

	next = configUpdated.DeepCopy()
	next.Object["status"] = map[string]any{"phase": "Ready", "replicas": int64(2)}
	if err := unstructured.SetNestedField(next.Object, int64(9), "spec", "size"); err != nil {
		t.Fatal(err)
	}
	statusUpdated, err := widgets.UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update of /status: %v", err)
	}
	check("update of /status with a spec change", statusUpdated, 3, 4, `{"phase":"Ready","replicas":2}`)
	wantNewVersion(t, "update of /status", configUpdated.GetResourceVersion(), statusUpdated.GetResourceVersion())

	statusPatched, err := widgets.Patch(ctx, "status", types.MergePatchType, []byte(`{"spec":{"size":8},"metadata":{"labels":{"from":"status"}},"status":{"phase":"Done"}}`), metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatalf("merge patch of /status: %v", err)
	}
	check("merge patch of /status with spec and label changes", statusPatched, 3, 4, `{"phase":"Done","replicas":2}`)
	if got := statusPatched.GetLabels(); !reflect.DeepEqual(got, map[string]string{"changed": "label"}) {
		t.Errorf("merge patch of /status: labels %v, want them unchanged (changed=label)", got)
	}

	annotated, err := widgets.Patch(ctx, "status", types.MergePatchType, []byte(`{"metadata":{"annotations":{"a":"b"}}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("merge patch of an annotation: %v", err)
	}
	check("merge patch of an annotation", annotated, 3, 4, `{"phase":"Done","replicas":2}`)

	gadgets := dyn.Resource(gadgetsV1).Namespace(ns)
	gadget, err := gadgets.Create(ctx, gadgetObject(t, "v1", "plain", `"spec":{"size":1},"status":{"phase":"a"}`), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	check("create of a Gadget with a status", gadget, 1, 1, `{"phase":"a"}`)
	next = gadget.DeepCopy()
	if err := unstructured.SetNestedField(next.Object, "b", "status", "phase"); err != nil {
		t.Fatal(err)
	}
	gadget, err = gadgets.Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update of a Gadget's status: %v", err)
	}
	check("update of a Gadget's status", gadget, 2, 1, `{"phase":"b"}`)
	gadget, err = gadgets.Patch(ctx, "plain", types.MergePatchType, []byte(`{"metadata":{"labels":{"l":"v"}}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("merge patch of a Gadget's labels: %v", err)
	}
	check("merge patch of a Gadget's labels", gadget, 2, 1, `{"phase":"b"}`)
	_, err = gadgets.UpdateStatus(ctx, gadget, metav1.UpdateOptions{})
	wantStatus(t, err, metav1.Status{
		Code:    http.StatusNotFound,
		Reason:  metav1.StatusReasonNotFound,
		Message: fmt.Sprintf(`gadgets.%s "plain" not found`, crdGroup),
		Details: &metav1.StatusDetails{Name: "plain", Group: crdGroup, Kind: "gadgets"},
	})
}

// scaleContract: the scale subresource of a custom resource is an
// autoscaling/v1 Scale read from the paths its CRD names (spec and status
// replicas, the label selector), with the object's uid and resourceVersion;
// an update or patch of /scale sets spec.replicas (a change of spec, so
// generation counts it) and a stale resourceVersion is a Conflict. A kind
// without the subresource answers 404.
func scaleContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	dyn := dynamicClient(t, cfg)
	widgets := dyn.Resource(widgetsResource).Namespace(ns)

	created, err := widgets.Create(ctx, widget(t, "scaled", `"spec":{"size":3,"replicas":2}`), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Object["status"] = map[string]any{"replicas": int64(1), "selector": "app=scaled"}
	w, err := widgets.UpdateStatus(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	u, err := widgets.Get(ctx, "scaled", metav1.GetOptions{}, "scale")
	if err != nil {
		t.Fatalf("get of /scale: %v", err)
	}
	want := &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "Scale"},
		ObjectMeta: metav1.ObjectMeta{Name: "scaled", Namespace: ns, UID: w.GetUID(), ResourceVersion: w.GetResourceVersion(),
			CreationTimestamp: w.GetCreationTimestamp()},
		Spec:   autoscalingv1.ScaleSpec{Replicas: 2},
		Status: autoscalingv1.ScaleStatus{Replicas: 1, Selector: "app=scaled"},
	}
	scale := toScale(t, u)
	if !reflect.DeepEqual(scale, want) {
		t.Errorf("get of /scale:\n got %s\nwant %s", toJSON(scale), toJSON(want))
	}

	scale.Spec.Replicas = 5
	u, err = widgets.Update(ctx, fromScale(t, scale), metav1.UpdateOptions{}, "scale")
	if err != nil {
		t.Fatalf("update of /scale: %v", err)
	}
	updatedScale := toScale(t, u)
	w, err = widgets.Get(ctx, "scaled", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantField(t, "after an update of /scale", w, `5`, "spec", "replicas")
	wantField(t, "after an update of /scale", w, `{"replicas":1,"selector":"app=scaled"}`, "status")
	if w.GetGeneration() != 2 || updatedScale.Spec.Replicas != 5 || updatedScale.ResourceVersion != w.GetResourceVersion() {
		t.Errorf("update of /scale answered replicas %d at resourceVersion %s; the Widget has generation %d at resourceVersion %s; want replicas 5, the Widget's resourceVersion, generation 2",
			updatedScale.Spec.Replicas, updatedScale.ResourceVersion, w.GetGeneration(), w.GetResourceVersion())
	}

	u, err = widgets.Patch(ctx, "scaled", types.MergePatchType, []byte(`{"spec":{"replicas":7}}`), metav1.PatchOptions{}, "scale")
	if err != nil {
		t.Fatalf("merge patch of /scale: %v", err)
	}
	if s := toScale(t, u); s.Spec.Replicas != 7 {
		t.Errorf("merge patch of /scale answered replicas %d, want 7", s.Spec.Replicas)
	}
	w, err = widgets.Get(ctx, "scaled", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantField(t, "after a merge patch of /scale", w, `7`, "spec", "replicas")
	if w.GetGeneration() != 3 {
		t.Errorf("after a merge patch of /scale: generation %d, want 3", w.GetGeneration())
	}

	scale.Spec.Replicas = 9 // scale still carries the resourceVersion before the patch
	_, err = widgets.Update(ctx, fromScale(t, scale), metav1.UpdateOptions{}, "scale")
	wantStatus(t, err, metav1.Status{
		Code:    http.StatusConflict,
		Reason:  metav1.StatusReasonConflict,
		Message: fmt.Sprintf(`Operation cannot be fulfilled on widgets.%s "scaled": the object has been modified; please apply your changes to the latest version and try again`, crdGroup),
		Details: &metav1.StatusDetails{Name: "scaled", Group: crdGroup, Kind: "widgets"},
	})

	gadgets := dyn.Resource(gadgetsV1).Namespace(ns)
	if _, err := gadgets.Create(ctx, gadgetObject(t, "v1", "unscaled", `"spec":{"size":1}`), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = gadgets.Get(ctx, "unscaled", metav1.GetOptions{}, "scale")
	wantStatus(t, err, metav1.Status{
		Code:    http.StatusNotFound,
		Reason:  metav1.StatusReasonNotFound,
		Message: fmt.Sprintf(`gadgets.%s "unscaled" not found`, crdGroup),
		Details: &metav1.StatusDetails{Name: "unscaled", Group: crdGroup, Kind: "gadgets"},
	})
}

// multiVersionContract: a CRD with two served versions and no conversion
// webhook (strategy None) serves one set of objects through both: an object
// written through one version reads through the other with that version's
// apiVersion and the same content, uid and resourceVersion, and lists and
// watches through either version see every write.
func multiVersionContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	dyn := dynamicClient(t, cfg)
	v1, v2 := dyn.Resource(gadgetsV1).Namespace(ns), dyn.Resource(gadgetsV2).Namespace(ns)

	start, err := v1.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	watches := map[string]watch.Interface{}
	for version, c := range map[string]dynamic.ResourceInterface{"v1": v1, "v2": v2} {
		w, err := c.Watch(ctx, metav1.ListOptions{ResourceVersion: start.GetResourceVersion()})
		if err != nil {
			t.Fatalf("watch through %s: %v", version, err)
		}
		defer w.Stop()
		watches[version] = w
	}

	created, err := v1.Create(ctx, gadgetObject(t, "v1", "versioned", `"spec":{"size":1,"color":"red"},"status":{"phase":"new"}`), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	same := func(what, version string, got, want *unstructured.Unstructured) {
		t.Helper()
		if av := crdGroup + "/" + version; got.GetAPIVersion() != av || got.GetKind() != "Gadget" {
			t.Errorf("%s: apiVersion %s, kind %s; want %s, Gadget", what, got.GetAPIVersion(), got.GetKind(), av)
		}
		if got.GetUID() != want.GetUID() || got.GetResourceVersion() != want.GetResourceVersion() || got.GetGeneration() != want.GetGeneration() {
			t.Errorf("%s: uid %s, resourceVersion %s, generation %d; want %s, %s, %d", what,
				got.GetUID(), got.GetResourceVersion(), got.GetGeneration(), want.GetUID(), want.GetResourceVersion(), want.GetGeneration())
		}
		for _, f := range []string{"spec", "status"} {
			if !reflect.DeepEqual(got.Object[f], want.Object[f]) {
				t.Errorf("%s: %s %s, want %s", what, f, toJSON(got.Object[f]), toJSON(want.Object[f]))
			}
		}
	}
	viaV2, err := v2.Get(ctx, "versioned", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get through v2: %v", err)
	}
	same("get through v2 of an object created through v1", "v2", viaV2, created)

	for version, c := range map[string]dynamic.ResourceInterface{"v1": v1, "v2": v2} {
		list, err := c.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("list through %s: %v", version, err)
		}
		if av := crdGroup + "/" + version; list.GetAPIVersion() != av || list.GetKind() != "GadgetList" || len(list.Items) != 1 {
			t.Fatalf("list through %s: %s %s of %d items; want %s GadgetList of 1", version, list.GetAPIVersion(), list.GetKind(), len(list.Items), av)
		}
		same("list through "+version, version, &list.Items[0], created)
	}

	next := viaV2.DeepCopy()
	if err := unstructured.SetNestedField(next.Object, int64(2), "spec", "size"); err != nil {
		t.Fatal(err)
	}
	updated, err := v2.Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update through v2: %v", err)
	}
	if updated.GetAPIVersion() != crdGroup+"/v2" {
		t.Errorf("update through v2 answered apiVersion %s", updated.GetAPIVersion())
	}
	viaV1, err := v1.Get(ctx, "versioned", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get through v1: %v", err)
	}
	same("get through v1 of an object updated through v2", "v1", viaV1, updated)

	for _, version := range []string{"v1", "v2"} {
		for _, want := range []struct {
			typ watch.EventType
			obj *unstructured.Unstructured
		}{{watch.Added, created}, {watch.Modified, updated}} {
			ev := nextEvent(t, watches[version])
			u, ok := ev.Object.(*unstructured.Unstructured)
			if ev.Type != want.typ || !ok {
				t.Fatalf("watch through %s: got %s %s, want %s", version, ev.Type, describeObject(ev.Object), want.typ)
			}
			same(fmt.Sprintf("watch through %s, %s event", version, want.typ), version, u, want.obj)
		}
	}

	// A body of one version sent to the path of the other is refused.
	_, err = v1.Create(ctx, gadgetObject(t, "v2", "mismatched", `"spec":{"size":1}`), metav1.CreateOptions{})
	wantStatus(t, err, metav1.Status{Code: http.StatusBadRequest, Reason: metav1.StatusReasonBadRequest,
		Message: "the API version in the data (" + crdGroup + "/v2) does not match the expected API version (" + crdGroup + "/v1)"})
}

// selectableFieldsContract: a field a CRD declares in selectableFields
// (spec.color here) selects lists and watches as metadata.name does, with
// =, == and !=, a defaulted value included; a field selector on any other
// field is 400 BadRequest.
func selectableFieldsContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	dyn := dynamicClient(t, cfg)
	widgets := dyn.Resource(widgetsResource).Namespace(ns)
	for name, spec := range map[string]string{"red-1": `{"size":1,"color":"red"}`, "blue-1": `{"size":1,"color":"blue"}`,
		"blue-2": `{"size":2,"color":"blue"}`, "defaulted": `{"size":1}`} {
		if _, err := widgets.Create(ctx, widget(t, name, `"spec":`+spec), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	list := func(selector string) ([]string, string) {
		t.Helper()
		l, err := widgets.List(ctx, metav1.ListOptions{FieldSelector: selector})
		if err != nil {
			t.Fatalf("list with field selector %s: %v", selector, err)
		}
		var names []string
		for _, item := range l.Items {
			names = append(names, item.GetName())
		}
		sort.Strings(names)
		return names, l.GetResourceVersion()
	}
	for selector, want := range map[string][]string{
		"spec.color=blue":                       {"blue-1", "blue-2"},
		"spec.color==red":                       {"defaulted", "red-1"},
		"spec.color!=blue":                      {"defaulted", "red-1"},
		"spec.color=blue,metadata.name!=blue-1": {"blue-2"},
		"spec.color=green":                      nil,
	} {
		if got, _ := list(selector); !slices.Equal(got, want) {
			t.Errorf("list with field selector %s: %v, want %v", selector, got, want)
		}
	}

	_, rv := list("spec.color=green")
	w, err := widgets.Watch(ctx, metav1.ListOptions{FieldSelector: "spec.color=green", ResourceVersion: rv})
	if err != nil {
		t.Fatalf("watch with field selector spec.color=green: %v", err)
	}
	defer w.Stop()
	if _, err := widgets.Patch(ctx, "red-1", types.MergePatchType, []byte(`{"spec":{"size":5}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	greened, err := widgets.Patch(ctx, "blue-1", types.MergePatchType, []byte(`{"spec":{"color":"green"}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, w)
	if u, ok := ev.Object.(*unstructured.Unstructured); ev.Type != watch.Added || !ok || u.GetName() != "blue-1" || u.GetResourceVersion() != greened.GetResourceVersion() {
		t.Errorf("watch with field selector spec.color=green: got %s %s, want ADDED of blue-1 at resourceVersion %s", ev.Type, describeObject(ev.Object), greened.GetResourceVersion())
	}

	_, err = widgets.List(ctx, metav1.ListOptions{FieldSelector: "spec.size=1"})
	wantStatus(t, err, metav1.Status{
		Code:    http.StatusBadRequest,
		Reason:  metav1.StatusReasonBadRequest,
		Message: `field label not supported: spec.size`,
	})
	_, err = dyn.Resource(gadgetsV1).Namespace(ns).List(ctx, metav1.ListOptions{FieldSelector: "spec.color=red"})
	wantStatus(t, err, metav1.Status{
		Code:    http.StatusBadRequest,
		Reason:  metav1.StatusReasonBadRequest,
		Message: `field label not supported: spec.color`,
	})
}

// applyListMapContract: server-side apply merges a list of
// x-kubernetes-list-type map by its keys: two field managers each own the
// entry they applied; an apply that sets a field of another manager's entry
// to a different value is a 409 Conflict naming the entry by its key, and a
// forced one takes the field over.
func applyListMapContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	widgets := dynamicClient(t, cfg).Resource(widgetsResource).Namespace(ns)
	apply := func(manager string, force bool, spec string) (*unstructured.Unstructured, error) {
		body := fmt.Sprintf(`{"apiVersion":%q,"kind":"Widget","metadata":{"name":"listed"},"spec":%s}`, widgetAPIVersion, spec)
		return widgets.Patch(ctx, "listed", types.ApplyPatchType, []byte(body), metav1.PatchOptions{FieldManager: manager, Force: ptr.To(force)})
	}

	if _, err := apply("a", false, `{"size":3,"items":[{"name":"a","value":"1"}]}`); err != nil {
		t.Fatalf("apply by a: %v", err)
	}
	both, err := apply("b", false, `{"items":[{"name":"b","value":"2"}]}`)
	if err != nil {
		t.Fatalf("apply by b: %v", err)
	}
	wantField(t, "applies by a and b", both, `[{"name":"a","value":"1"},{"name":"b","value":"2"}]`, "spec", "items")
	wantOwned(t, both, "a", `f:spec.f:items.k:{"name":"a"}`, `f:spec.f:items.k:{"name":"a"}.f:name`, `f:spec.f:items.k:{"name":"a"}.f:value`, `f:spec.f:size`)
	wantOwned(t, both, "b", `f:spec.f:items.k:{"name":"b"}`, `f:spec.f:items.k:{"name":"b"}.f:name`, `f:spec.f:items.k:{"name":"b"}.f:value`)

	_, err = apply("b", false, `{"items":[{"name":"b","value":"2"},{"name":"a","value":"x"}]}`)
	wantStatus(t, err, metav1.Status{
		Code:    http.StatusConflict,
		Reason:  metav1.StatusReasonConflict,
		Message: `Apply failed with 1 conflict: conflict with "a": .spec.items[name="a"].value`,
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{
			Type:    metav1.CauseTypeFieldManagerConflict,
			Message: `conflict with "a"`,
			Field:   `.spec.items[name="a"].value`,
		}}},
	})

	forced, err := apply("b", true, `{"items":[{"name":"b","value":"2"},{"name":"a","value":"x"}]}`)
	if err != nil {
		t.Fatalf("forced apply by b: %v", err)
	}
	wantField(t, "forced apply by b", forced, `[{"name":"b","value":"2"},{"name":"a","value":"x"}]`, "spec", "items")
	wantOwned(t, forced, "a", `f:spec.f:items.k:{"name":"a"}`, `f:spec.f:items.k:{"name":"a"}.f:name`, `f:spec.f:size`)
	wantOwned(t, forced, "b", `f:spec.f:items.k:{"name":"a"}`, `f:spec.f:items.k:{"name":"a"}.f:name`, `f:spec.f:items.k:{"name":"a"}.f:value`,
		`f:spec.f:items.k:{"name":"b"}`, `f:spec.f:items.k:{"name":"b"}.f:name`, `f:spec.f:items.k:{"name":"b"}.f:value`)
}

// crdContentTypeContract: custom resources are served as JSON only
// (DESIGN.md, fact 23): a client that accepts protobuf first and JSON second
// gets JSON; one that accepts protobuf alone is 406 NotAcceptable (answered
// in protobuf, and listing protobuf among the types kube-apiserver accepts).
// A protobuf body is refused: a patch is 415 UnsupportedMediaType (a custom
// resource takes no strategic merge patch either); a create with
// fieldValidation Ignore is 400 BadRequest; a create with the default
// fieldValidation (Warn) gets no answer from kube-apiserver v1.37.2 at all:
// its handler panics (there is no strict protobuf decoder) and the stream
// is reset. Either way nothing is created.
func crdContentTypeContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	if _, err := dynamicClient(t, cfg).Resource(widgetsResource).Namespace(ns).Create(ctx, widget(t, "negotiated", `"spec":{"size":1}`), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	collection := fmt.Sprintf("/apis/%s/namespaces/%s/widgets", widgetAPIVersion, ns)
	do := func(method, path, contentType, accept string, body []byte) (int, string, []byte, error) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(cfg.Host, "/")+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.Header.Set("Accept", accept)
		resp, err := hc.Do(req)
		if err != nil {
			return 0, "", nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), b, err
	}
	wantStatusBody := func(what string, code int, contentType string, body []byte, want metav1.Status) {
		t.Helper()
		var got metav1.Status
		switch ct, _, _ := strings.Cut(contentType, ";"); ct {
		case runtime.ContentTypeJSON:
			if err := json.Unmarshal(body, &got); err != nil {
				t.Errorf("%s: body %q: %v", what, body, err)
				return
			}
		case runtime.ContentTypeProtobuf:
			obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, nil)
			s, ok := obj.(*metav1.Status)
			if err != nil || !ok {
				t.Errorf("%s: protobuf body %q does not decode as a Status: %v", what, body, err)
				return
			}
			got = *s
		default:
			t.Errorf("%s: %d answer of type %q: %q", what, code, contentType, body)
			return
		}
		want.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
		want.Status = metav1.StatusFailure
		if int(got.Code) != code || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: HTTP %d, status:\n got %s\nwant %s", what, code, toJSON(got), toJSON(want))
		}
	}

	for _, path := range []string{collection + "/negotiated", collection} {
		code, contentType, body, err := do(http.MethodGet, path, "", "application/vnd.kubernetes.protobuf,application/json", nil)
		if err != nil || code != http.StatusOK {
			t.Fatalf("GET %s accepting protobuf or JSON: %d %q, %v", path, code, body, err)
		}
		if ct, _, _ := strings.Cut(contentType, ";"); ct != runtime.ContentTypeJSON {
			t.Errorf("GET %s accepting protobuf or JSON: Content-Type %q, want %s", path, contentType, runtime.ContentTypeJSON)
		}
		var u unstructured.Unstructured
		if err := u.UnmarshalJSON(body); err != nil || !strings.HasPrefix(u.GetKind(), "Widget") {
			t.Errorf("GET %s accepting protobuf or JSON: body %.200q (%v), want a Widget or WidgetList in JSON", path, body, err)
		}
	}

	code, contentType, body, err := do(http.MethodGet, collection+"/negotiated", "", runtime.ContentTypeProtobuf, nil)
	if err != nil {
		t.Fatalf("GET accepting protobuf alone: %v", err)
	}
	wantStatusBody("GET accepting protobuf alone", code, contentType, body, metav1.Status{
		Code:    http.StatusNotAcceptable,
		Reason:  metav1.StatusReasonNotAcceptable,
		Message: "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf",
	})

	protoBody := []byte("k8s\x00\n\x0f\n\x02v1\x12\tConfigMap") // a protobuf envelope (runtime.Unknown) of kind v1 ConfigMap
	code, contentType, body, err = do(http.MethodPatch, collection+"/negotiated", runtime.ContentTypeProtobuf, runtime.ContentTypeJSON, protoBody)
	if err != nil {
		t.Fatalf("PATCH with a protobuf body: %v", err)
	}
	wantStatusBody("PATCH with a protobuf body", code, contentType, body, metav1.Status{
		Code:    http.StatusUnsupportedMediaType,
		Reason:  metav1.StatusReasonUnsupportedMediaType,
		Message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
	})

	// kube-apiserver's message quotes its protobuf decoder: "ConfigMap in
	// version \"v1\" cannot be handled as a Widget: Object 'Kind' is missing
	// in 'object has no kind field '".
	code, contentType, body, err = do(http.MethodPost, collection+"?fieldValidation=Ignore", runtime.ContentTypeProtobuf, runtime.ContentTypeJSON, protoBody)
	if err != nil {
		t.Fatalf("POST with a protobuf body and fieldValidation Ignore: %v", err)
	}
	var status metav1.Status
	if err := json.Unmarshal(body, &status); err != nil || code != http.StatusBadRequest || status.Code != http.StatusBadRequest || status.Reason != metav1.StatusReasonBadRequest {
		t.Errorf("POST with a protobuf body and fieldValidation Ignore: HTTP %d, %s %q, want a 400 BadRequest Status", code, contentType, body)
	}

	code, _, body, err = do(http.MethodPost, collection, runtime.ContentTypeProtobuf, runtime.ContentTypeJSON, protoBody)
	if err == nil && code < 400 {
		t.Errorf("POST with a protobuf body: HTTP %d %q, want it refused", code, body)
	}
	list, err := dynamicClient(t, cfg).Resource(widgetsResource).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Errorf("after the protobuf creates the namespace has %d Widgets, want the one created in JSON", len(list.Items))
	}
}

// runtimeCRDContract: a CRD created through apiextensions.k8s.io/v1 becomes
// Established, discovery lists its resource, and its objects can be
// created, listed and watched; a default added to it later is read on the
// objects stored before; a CRD kube-apiserver cannot serve (a schema
// that is not structural, a CEL rule that does not compile, no storage
// version) is refused with 422 Invalid.
func runtimeCRDContract(t *testing.T, cfg *rest.Config, ns string) {
	ctx := rowContext(t)
	crds := apiextensionsClient(t, cfg).ApiextensionsV1().CustomResourceDefinitions()
	group := "r" + utilrand.String(8) + "." + crdGroup
	crd := probeCRD(group)
	if _, err := crds.Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create CRD %s: %v", crd.Name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
		defer cancel()
		if err := crds.Delete(ctx, crd.Name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete CRD %s: %v", crd.Name, err)
		}
	})

	// A client waits for the Established condition, then for discovery.
	established := func() bool {
		got, err := crds.Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get CRD %s: %v", crd.Name, err)
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return got.Status.AcceptedNames.Kind == "Probe" && got.Status.AcceptedNames.Plural == "probes"
			}
		}
		return false
	}
	eventually(t, "CRD "+crd.Name+" Established", established)
	disc := discoveryClient(t, cfg)
	var resource *metav1.APIResource
	eventually(t, "discovery of "+group+"/v1 listing probes", func() bool {
		list, err := disc.ServerResourcesForGroupVersion(group + "/v1")
		if err != nil {
			return false
		}
		for i := range list.APIResources {
			if list.APIResources[i].Name == "probes" {
				resource = &list.APIResources[i]
				return true
			}
		}
		return false
	})
	wantVerbs := []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	if verbs := slices.Sorted(slices.Values(resource.Verbs)); resource.Kind != "Probe" || !resource.Namespaced || !slices.Equal(verbs, wantVerbs) {
		t.Errorf("discovery lists probes as kind %s, namespaced %v, verbs %v; want Probe, namespaced, %v", resource.Kind, resource.Namespaced, verbs, wantVerbs)
	}

	probes := dynamicClient(t, cfg).Resource(schema.GroupVersionResource{Group: group, Version: "v1", Resource: "probes"}).Namespace(ns)
	probe := func(name string) *unstructured.Unstructured {
		return customObject(t, group+"/v1", "Probe", name, `"spec":{"target":"example"}`)
	}
	first, err := probes.Create(ctx, probe("first"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create a Probe: %v", err)
	}
	wantField(t, "create a Probe", first, `{"target":"example","interval":30}`, "spec")
	list, err := probes.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list Probes: %v", err)
	}
	if len(list.Items) != 1 || list.Items[0].GetUID() != first.GetUID() {
		t.Errorf("list of Probes: %d items, want the one created", len(list.Items))
	}
	w, err := probes.Watch(ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion()})
	if err != nil {
		t.Fatalf("watch Probes: %v", err)
	}
	defer w.Stop()
	second, err := probes.Create(ctx, probe("second"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, w)
	if u, ok := ev.Object.(*unstructured.Unstructured); ev.Type != watch.Added || !ok || u.GetName() != "second" || u.GetResourceVersion() != second.GetResourceVersion() {
		t.Errorf("watch of Probes: got %s %s, want ADDED of second at resourceVersion %s", ev.Type, describeObject(ev.Object), second.GetResourceVersion())
	}

	// A default the CRD gains later applies when a stored object is read,
	// which is not written again: its resourceVersion stays.
	stored, err := crds.Get(ctx, crd.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stored.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["retries"] = apiextensionsv1.JSONSchemaProps{Type: "integer", Default: &apiextensionsv1.JSON{Raw: []byte("3")}}
	if _, err := crds.Update(ctx, stored, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update CRD %s with a new default: %v", crd.Name, err)
	}
	var reread *unstructured.Unstructured
	eventually(t, "the new default read on a stored Probe", func() bool {
		if reread, err = probes.Get(ctx, "first", metav1.GetOptions{}); err != nil {
			return false
		}
		retries, found, _ := unstructured.NestedInt64(reread.Object, "spec", "retries")
		return found && retries == 3
	})
	if reread.GetResourceVersion() != first.GetResourceVersion() {
		t.Errorf("reading the new default changed the resourceVersion from %s to %s", first.GetResourceVersion(), reread.GetResourceVersion())
	}

	for _, c := range []struct {
		what   string
		change func(*apiextensionsv1.CustomResourceDefinition)
		causes []metav1.StatusCause
	}{
		{"a property without a type",
			func(crd *apiextensionsv1.CustomResourceDefinition) {
				crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["untyped"] = apiextensionsv1.JSONSchemaProps{}
			},
			[]metav1.StatusCause{{Type: metav1.CauseTypeFieldValueRequired, Field: "spec.validation.openAPIV3Schema.properties[spec].properties[untyped].type",
				Message: "Required value: must not be empty for specified object fields"}}},
		{"a CEL rule that does not compile",
			func(crd *apiextensionsv1.CustomResourceDefinition) {
				spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
				spec.XValidations = apiextensionsv1.ValidationRules{{Rule: "self.missing == 1"}}
				crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"] = spec
			},
			[]metav1.StatusCause{{Type: metav1.CauseTypeFieldValueInvalid, Field: "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule",
				Message: `Invalid value: {"Rule":"self.missing == 1","Message":"","MessageExpression":"","Reason":null,"FieldPath":"","OptionalOldSelf":null}: ` +
					"compilation failed: ERROR: <input>:1:5: undefined field 'missing'\n | self.missing == 1\n | ....^"}}},
		{"no storage version",
			func(crd *apiextensionsv1.CustomResourceDefinition) { crd.Spec.Versions[0].Storage = false },
			[]metav1.StatusCause{{Type: metav1.CauseTypeFieldValueInvalid, Field: "spec.versions",
				Message: `Invalid value: [{"Name":"v1","Served":true,"Storage":false,"Deprecated":false,"DeprecationWarning":null,"Schema":null,` +
					`"Subresources":null,"AdditionalPrinterColumns":null,"SelectableFields":null}]: must have exactly one version marked as storage version`},
				{Type: metav1.CauseTypeFieldValueInvalid, Field: "status.storedVersions", Message: "Invalid value: null: must have at least one stored version"}}},
	} {
		bad := probeCRD("bad" + utilrand.String(8) + "." + crdGroup)
		c.change(bad)
		_, err := crds.Create(ctx, bad, metav1.CreateOptions{})
		if err == nil {
			t.Errorf("create of a CRD with %s succeeded, want 422 Invalid", c.what)
			if err := crds.Delete(ctx, bad.Name, metav1.DeleteOptions{}); err != nil {
				t.Errorf("delete CRD %s: %v", bad.Name, err)
			}
			continue
		}
		wantStatus(t, err, invalidStatus("apiextensions.k8s.io", "CustomResourceDefinition", bad.Name, c.causes...))
	}
}

// Helpers for the custom resource rows.

// invalidStatus is kube-apiserver's 422 Invalid for an object of
// group and kind: its message lists the causes ("field: message"), in
// brackets if there are several.
func invalidStatus(group, kind, name string, causes ...metav1.StatusCause) metav1.Status {
	var list []string
	for _, c := range causes {
		list = append(list, c.Field+": "+c.Message)
	}
	errs := strings.Join(list, ", ")
	if len(list) > 1 {
		errs = "[" + errs + "]"
	}
	return metav1.Status{
		Code:    http.StatusUnprocessableEntity,
		Reason:  metav1.StatusReasonInvalid,
		Message: fmt.Sprintf("%s.%s %q is invalid: %s", kind, group, name, errs),
		Details: &metav1.StatusDetails{Name: name, Group: group, Kind: kind, Causes: causes},
	}
}

func dynamicClient(t *testing.T, cfg *rest.Config) *dynamic.DynamicClient {
	t.Helper()
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return dyn
}

func apiextensionsClient(t *testing.T, cfg *rest.Config) *apiextensionsclient.Clientset {
	t.Helper()
	c, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// customObject returns the object {"apiVersion":...,"kind":...,
// "metadata":{"name":...}, fields}, numbers decoded as the dynamic client
// decodes them (whole numbers as int64).
func customObject(t *testing.T, apiVersion, kind, name, fields string) *unstructured.Unstructured {
	t.Helper()
	body := fmt.Sprintf(`{"apiVersion":%q,"kind":%q,"metadata":{"name":%q}`, apiVersion, kind, name)
	if fields != "" {
		body += "," + fields
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(body + "}")); err != nil {
		t.Fatalf("object %s: %v", body, err)
	}
	return u
}

func widget(t *testing.T, name, fields string) *unstructured.Unstructured {
	t.Helper()
	return customObject(t, widgetAPIVersion, "Widget", name, fields)
}

func gadgetObject(t *testing.T, version, name, fields string) *unstructured.Unstructured {
	t.Helper()
	return customObject(t, crdGroup+"/"+version, "Gadget", name, fields)
}

// wantField checks that u has the JSON value want at path, or, if want is
// empty, nothing there.
func wantField(t *testing.T, what string, u *unstructured.Unstructured, want string, path ...string) {
	t.Helper()
	got, found, err := unstructured.NestedFieldNoCopy(u.Object, path...)
	if err != nil {
		t.Errorf("%s: %s: %v", what, strings.Join(path, "."), err)
		return
	}
	if want == "" {
		if found {
			t.Errorf("%s: %s is %s, want it absent", what, strings.Join(path, "."), toJSON(got))
		}
		return
	}
	var wantValue any
	if err := utiljson.Unmarshal([]byte(want), &wantValue); err != nil {
		t.Fatalf("%s: want %s: %v", what, want, err)
	}
	if !found || !reflect.DeepEqual(got, wantValue) {
		t.Errorf("%s: %s is %s, want %s", what, strings.Join(path, "."), toJSON(got), want)
	}
}

// wantOwned checks the fields manager owns in u's managedFields: each a
// path of the fieldsV1 tree (a node that is owned itself, as well as its
// fields, is listed on its own).
func wantOwned(t *testing.T, u *unstructured.Unstructured, manager string, want ...string) {
	t.Helper()
	var got []string
	for _, entry := range u.GetManagedFields() {
		if entry.Manager != manager || entry.FieldsV1 == nil {
			continue
		}
		var tree map[string]any
		if err := json.Unmarshal(entry.FieldsV1.Raw, &tree); err != nil {
			t.Fatalf("managedFields of %s: %v", manager, err)
		}
		got = append(got, fieldPaths("", tree)...)
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("fields owned by %s:\n got %q\nwant %q", manager, got, want)
	}
}

func fieldPaths(prefix string, tree map[string]any) []string {
	var paths []string
	for k, v := range tree {
		if k == "." {
			paths = append(paths, strings.TrimSuffix(prefix, "."))
			continue
		}
		sub, _ := v.(map[string]any)
		if len(sub) == 0 {
			paths = append(paths, prefix+k)
			continue
		}
		paths = append(paths, fieldPaths(prefix+k+".", sub)...)
	}
	return paths
}

func toScale(t *testing.T, u *unstructured.Unstructured) *autoscalingv1.Scale {
	t.Helper()
	s := &autoscalingv1.Scale{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, s); err != nil {
		t.Fatalf("scale %s: %v", toJSON(u.Object), err)
	}
	return s
}

func fromScale(t *testing.T, s *autoscalingv1.Scale) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(s)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

// probeCRD returns a CRD for the kind Probe (probes) of group, served and
// stored as v1, with a defaulted field.
func probeCRD(group string) *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "probes." + group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: group,
			Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: "Probe", ListKind: "ProbeList", Plural: "probes", Singular: "probe"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{
						"spec": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
							"target":   {Type: "string"},
							"interval": {Type: "integer", Default: &apiextensionsv1.JSON{Raw: []byte("30")}},
						}},
					},
				}},
			}},
		},
	}
}

// crdTimeout bounds the wait for a new CRD to be established and listed by
// discovery (about 2 s on kube-apiserver).
const crdTimeout = 10 * time.Second

// eventually polls cond every 50 ms until it holds, failing the test if it
// does not within crdTimeout.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(crdTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, crdTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// warningLog collects the warnings of a client's responses
// (rest.Config.WarningHandler), sorted.
type warningLog struct {
	mu       sync.Mutex
	warnings []string
}

func (l *warningLog) HandleWarningHeader(code int, agent, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.warnings = append(l.warnings, text)
}

func (l *warningLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Sorted(slices.Values(l.warnings))
}

func (l *warningLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.warnings = nil
}
