package apiserver_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
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
