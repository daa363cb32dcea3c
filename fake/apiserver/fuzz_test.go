package apiserver_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/leaderlab/leaderlab/fake/apiserver"
)

// FuzzRequest sends arbitrary methods, paths, queries, content
// types and bodies: the server must never panic, and every answer of 400 or
// more must be a metav1.Status with that code, as kube-apiserver sends. The
// seed corpus runs in every `go test`.
func FuzzRequest(f *testing.F) {
	for _, seed := range []struct{ method, target, contentType, body string }{
		{"GET", "/api/v1/namespaces/default/configmaps/x", "", ""},
		{"GET", "/apis/apps/v1/deployments?labelSelector=a%3Db&limit=1", "", ""},
		{"GET", "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=abc", "", ""},
		{"POST", "/api/v1/namespaces/default/configmaps", "application/json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}`},
		{"POST", "/api/v1/namespaces/default/configmaps", "application/json", `{not json`},
		{"POST", "/api/v1/namespaces/default/configmaps", "application/vnd.kubernetes.protobuf", "k8s\x00\n\x02v1"},
		{"POST", "/api/v1/namespaces/nope/secrets", "application/yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  generateName: s-\n"},
		{"PUT", "/api/v1/namespaces/default/configmaps/a", "application/json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"}}`},
		{"PATCH", "/api/v1/namespaces/default/configmaps/a", "application/json-patch+json", `[{"op":"add","path":"/data","value":{"k":"v"}}]`},
		{"PATCH", "/api/v1/namespaces/default/configmaps/a", "application/merge-patch+json", `{"metadata":{"name":"other"}}`},
		{"PATCH", "/apis/apps/v1/namespaces/default/deployments/d", "application/strategic-merge-patch+json", `{"spec":{"replicas":"x"}}`},
		{"PATCH", "/api/v1/namespaces/default/configmaps/a?fieldManager=m", "application/apply-patch+yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"},
		{"DELETE", "/api/v1/namespaces/default/configmaps/a", "application/json", `{"preconditions":{"uid":"x"}}`},
		{"GET", "/apis/nope.example.com/v1", "", ""},
		{"TRACE", "/api/v1/namespaces", "", ""},
		{"GET", "/api/v1/namespaces/default/configmaps/a/status/extra/parts", "", ""},
	} {
		f.Add(seed.method, seed.target, seed.contentType, []byte(seed.body))
	}
	srv := newServer(f)
	f.Fuzz(func(t *testing.T, method, target, contentType string, body []byte) {
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		req, err := http.NewRequest(method, "http://fuzz"+target, strings.NewReader(string(body)))
		if err != nil || req.URL.Query().Get("watch") != "" {
			return // not a request a client can send; watches stream and are covered elsewhere
		}
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code < 400 {
			return
		}
		obj, err := runtime.Decode(scheme.Codecs.UniversalDeserializer(), rec.Body.Bytes())
		st, ok := obj.(*metav1.Status)
		if err != nil || !ok || int(st.Code) != rec.Code {
			t.Fatalf("%s %s (%s): %d answered with %q, not a Status of that code (%v)", method, target, contentType, rec.Code, rec.Body.String(), err)
		}
	})
}

// fuzzCRD is a CRD with nested defaults, a list-map, preserved unknown
// fields and CEL rules, one of them a transition rule.
const fuzzCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.fuzz.example}
spec:
  group: fuzz.example
  names: {kind: Gadget, plural: gadgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-validations:
            - {rule: "self.size <= self.limit", messageExpression: "self.mode == 'fast' ? 'size exceeds the limit in fast mode' : 'size exceeds the limit'"}
            - {rule: "self.mode == oldSelf.mode", message: "mode is immutable"}
            properties:
              size: {type: integer, default: 1, minimum: 0}
              limit: {type: integer, default: 10, maximum: 100}
              mode: {type: string, default: fast, enum: [fast, slow]}
              labels: {type: object, additionalProperties: {type: string, maxLength: 16}, maxProperties: 4}
              ports:
                type: array
                maxItems: 4
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string, maxLength: 16}
                    port: {type: integer, default: 80}
              extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
          status:
            type: object
            properties:
              ready: {type: boolean}
`

// FuzzCustomResource writes arbitrary bodies of a custom resource whose CRD
// has defaults, pruning and CEL rules: the server must never panic or answer
// a server error (5xx) of its own, and every refusal is a metav1.Status of
// its code. The seed corpus runs in every `go test`.
func FuzzCustomResource(f *testing.F) {
	for _, seed := range []struct{ method, contentType, body string }{
		{"POST", "application/json", `{"apiVersion":"fuzz.example/v1","kind":"Gadget","metadata":{"name":"g"},"spec":{}}`},
		{"POST", "application/json", `{"apiVersion":"fuzz.example/v1","kind":"Gadget","metadata":{"name":"g"},"spec":{"size":11}}`},
		{"POST", "application/json", `{"apiVersion":"fuzz.example/v1","kind":"Gadget","metadata":{"name":"g"},"spec":{"size":"x","unknown":1,"extra":{"a":[1,{"b":null}]}}}`},
		{"POST", "application/json", `{"apiVersion":"fuzz.example/v1","kind":"Gadget","metadata":{"name":"g","labels":{"a":1}},"spec":null,"status":{"ready":true}}`},
		{"POST", "application/json", `{"apiVersion":"fuzz.example/v1","kind":"Gadget","metadata":{"name":"g"},"spec":{"ports":[{"name":"a"},{"name":"a"}],"size":1e300}}`},
		{"POST", "application/yaml", "apiVersion: fuzz.example/v1\nkind: Gadget\nmetadata: {name: y}\nspec: {mode: slow, labels: {a: b}}\n"},
		{"POST", "application/vnd.kubernetes.protobuf", "k8s\x00\n\x02v1"},
		{"PUT", "application/json", `{"apiVersion":"fuzz.example/v1","kind":"Gadget","metadata":{"name":"seed"},"spec":{"mode":"slow"}}`},
		{"PUT", "application/json", `{"apiVersion":"fuzz.example/v1","kind":"Gadget","metadata":{"name":"seed","resourceVersion":"1"},"spec":{"size":3}}`},
		{"PATCH", "application/merge-patch+json", `{"spec":{"size":-1,"limit":null}}`},
		{"PATCH", "application/json-patch+json", `[{"op":"add","path":"/spec/ports","value":[{"port":1}]}]`},
		{"PATCH", "application/apply-patch+yaml", "apiVersion: fuzz.example/v1\nkind: Gadget\nmetadata: {name: seed}\nspec: {ports: [{name: http, port: 8080}]}\n"},
		{"PATCH", "application/strategic-merge-patch+json", `{"spec":{"size":2}}`},
	} {
		f.Add(seed.method, seed.contentType, []byte(seed.body))
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict([]byte(fuzzCRD), crd); err != nil {
		f.Fatal(err)
	}
	srv := newServer(f, apiserver.WithCRDs(crd))
	seed := `{"apiVersion":"fuzz.example/v1","kind":"Gadget","metadata":{"name":"seed"},"spec":{}}`
	if code, body := serve(srv, "POST", "/apis/fuzz.example/v1/namespaces/default/gadgets", "application/json", []byte(seed)); code != http.StatusCreated {
		f.Fatalf("creating the seed object: %d %s", code, body)
	}
	f.Fuzz(func(t *testing.T, method, contentType string, body []byte) {
		target := "/apis/fuzz.example/v1/namespaces/default/gadgets"
		switch method {
		case "PUT", "PATCH":
			target += "/seed?fieldManager=fuzz"
		case "POST":
		default:
			return
		}
		code, answer := serve(srv, method, target, contentType, body)
		if code >= 500 {
			t.Fatalf("%s %s (%s) %q: a server error of its own: %d %s", method, target, contentType, body, code, answer)
		}
		if code < 400 {
			return
		}
		obj, err := runtime.Decode(scheme.Codecs.UniversalDeserializer(), answer)
		st, ok := obj.(*metav1.Status)
		if err != nil || !ok || int(st.Code) != code {
			t.Fatalf("%s %s (%s): %d answered with %q, not a Status of that code (%v)", method, target, contentType, code, answer, err)
		}
	})
	if u := srv.Unserved(); len(u) != 0 {
		f.Errorf("the server could not serve: %v", u)
	}
}

// serve sends one request straight to the server's handler.
func serve(srv *apiserver.Server, method, target, contentType string, body []byte) (int, []byte) {
	req := httptest.NewRequest(method, "http://fuzz"+target, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}
