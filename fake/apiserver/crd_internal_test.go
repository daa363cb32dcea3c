package apiserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

const onceCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: things.once.example}
spec:
  group: once.example
  names: {kind: Thing, plural: things}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-validations: [{rule: "self.count >= 0"}]
            properties: {count: {type: integer}}
`

// The rules of a CRD version (its CEL programs among them) are built once,
// when the CRD is stored, and again only when its spec changes: never per
// request, and not for a change of the CRD's metadata.
func TestCRDRulesAreBuiltOncePerVersion(t *testing.T) {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict([]byte(onceCRD), crd); err != nil {
		t.Fatal(err)
	}
	s, err := New(WithCRDs(crd))
	if err != nil {
		t.Fatal(err)
	}
	gvr := schema.GroupVersionResource{Group: "once.example", Version: "v1", Resource: "things"}
	rules := func() *custom { return s.res().byGVR[gvr].custom }
	built := rules()
	send := func(method, path, body string) {
		t.Helper()
		req := httptest.NewRequestWithContext(context.Background(), method, "http://x"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if method == http.MethodPatch {
			req.Header.Set("Content-Type", "application/merge-patch+json")
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
	}
	send(http.MethodPost, "/apis/once.example/v1/namespaces/default/things", `{"apiVersion":"once.example/v1","kind":"Thing","metadata":{"name":"a"},"spec":{"count":0}}`)
	for range 10 {
		send(http.MethodPatch, "/apis/once.example/v1/namespaces/default/things/a", `{"spec":{"count":1}}`)
	}
	send(http.MethodPatch, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/things.once.example", `{"metadata":{"labels":{"touched":"yes"}}}`)
	if rules() != built {
		t.Fatal("the rules were built again without a change of the CRD's spec")
	}
	send(http.MethodPatch, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/things.once.example",
		`{"spec":{"versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object","properties":{"spec":{"type":"object","x-kubernetes-validations":[{"rule":"self.count >= 1"}],"properties":{"count":{"type":"integer"}}}}}}}]}}`)
	if rules() == built {
		t.Fatal("a change of the CRD's rules was not built")
	}
}
