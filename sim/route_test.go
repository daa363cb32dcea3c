package sim

import (
	"net/http/httptest"
	"testing"
)

// Requests are named as the audit log names them; discovery documents are
// a get of their path, never a list of nothing.
func TestParseRoute(t *testing.T) {
	for _, c := range []struct {
		method, target string
		want           route
	}{
		{"GET", "/api", route{Verb: VerbGet, Resource: "/api"}},
		{"GET", "/api/v1", route{Verb: VerbGet, Resource: "/api/v1"}},
		{"GET", "/apis/apps/v1", route{Verb: VerbGet, Resource: "/apis/apps/v1"}},
		{"GET", "/api/v1/namespaces/ns/configmaps", route{Verb: VerbList, Resource: "configmaps", Namespace: "ns"}},
		{"GET", "/api/v1/namespaces/ns/configmaps?watch=true", route{Verb: VerbWatch, Resource: "configmaps", Namespace: "ns"}},
		{"PUT", "/apis/example.com/v1/namespaces/ns/widgets/w/status", route{Verb: VerbUpdate, Resource: "widgets/status", Namespace: "ns", Name: "w"}},
		{"POST", "/apis/example.com/v1/widgets", route{Verb: VerbCreate, Resource: "widgets"}},
	} {
		if got := parseRoute(httptest.NewRequest(c.method, c.target, nil)); got != c.want {
			t.Errorf("%s %s: %+v, want %+v", c.method, c.target, got, c.want)
		}
	}
}
