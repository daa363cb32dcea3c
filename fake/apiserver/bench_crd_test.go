package apiserver_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apiextensions-apiserver/pkg/registry/customresource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured/unstructuredscheme"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"sigs.k8s.io/yaml"

	"github.com/leaderlab/leaderlab/fake/apiserver"
)

// benchCRD has a 20-field spec and 3 CEL rules, one of them a transition
// rule: the size of a typical operator's custom resource.
func benchCRD(tb testing.TB) *apiextensionsv1.CustomResourceDefinition {
	tb.Helper()
	var fields strings.Builder
	for i := range 20 {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&fields, "              f%d: {type: integer, minimum: 0, maximum: 1000000, default: 1}\n", i)
		case 1:
			fmt.Fprintf(&fields, "              f%d: {type: string, maxLength: 64, default: x}\n", i)
		case 2:
			fmt.Fprintf(&fields, "              f%d: {type: boolean}\n", i)
		default:
			fmt.Fprintf(&fields, "              f%d: {type: string, enum: [a, b, c]}\n", i)
		}
	}
	manifest := `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: benches.bench.example}
spec:
  group: bench.example
  names: {kind: Bench, plural: benches}
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
            - {rule: "self.f0 <= self.f4 + 1000000", message: "f0 too large"}
            - {rule: "self.f1.size() <= 32", message: "f1 too long"}
            - {rule: "self.f5 == oldSelf.f5", message: "f5 is immutable"}
            properties:
` + fields.String()
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict([]byte(manifest), crd); err != nil {
		tb.Fatal(err)
	}
	return crd
}

// benchBody is an update of the bench object, with f0 = i.
func benchBody(i int) []byte {
	var spec strings.Builder
	fmt.Fprintf(&spec, `"f0":%d`, i)
	for f := 1; f < 20; f++ {
		switch f % 4 {
		case 0:
			fmt.Fprintf(&spec, `,"f%d":%d`, f, f)
		case 1:
			fmt.Fprintf(&spec, `,"f%d":"v%d"`, f, f)
		case 2:
			fmt.Fprintf(&spec, `,"f%d":true`, f)
		default:
			fmt.Fprintf(&spec, `,"f%d":"b"`, f)
		}
	}
	return []byte(`{"apiVersion":"bench.example/v1","kind":"Bench","metadata":{"name":"b","namespace":"default"},"spec":{` + spec.String() + `}}`)
}

// BenchmarkCustomResourceWrite prices a write of a custom resource whose
// CRD has a 20-field schema and 3 CEL rules, beside two floors measured in
// the same iteration: the same write on a server that serves the kind with
// no CRD (no schema, no rules), and apiextensions' own pruning, defaulting
// and update validation (the registry's strategy: OpenAPI schema and CEL)
// alone on the same object, which kube-apiserver pays too. The goal:
// crd-write <= plain-write + 1.2 x validators, so that nothing of the
// server's own adds to the price of the rules (reported as
// own-cost-x-validators: (crd-write - plain-write) / validators).
func BenchmarkCustomResourceWrite(b *testing.B) {
	const writes = 200
	crd := benchCRD(b)
	withCRD := newServer(b, apiserver.WithCRDs(crd))
	plain := newServer(b, apiserver.WithKind(schema.GroupVersionKind{Group: "bench.example", Version: "v1", Kind: "Bench"}, "benches", true, true))
	validate := validatorsAlone(b, crd)
	bodies := make([][]byte, writes)
	for i := range bodies {
		bodies[i] = benchBody(i + 1)
	}
	path := "/apis/bench.example/v1/namespaces/default/benches"
	for _, srv := range []*apiserver.Server{withCRD, plain} {
		if code, answer := serve(srv, http.MethodPost, path, "application/json", benchBody(0)); code != http.StatusCreated {
			b.Fatalf("creating the bench object: %d %s", code, answer)
		}
	}
	write := func(srv *apiserver.Server) time.Duration {
		start := time.Now()
		for _, body := range bodies {
			if code, answer := serve(srv, http.MethodPut, path+"/b", "application/json", body); code != http.StatusOK {
				b.Fatalf("update: %d %s", code, answer)
			}
		}
		return time.Since(start)
	}
	var crdTime, plainTime, validatorTime time.Duration
	b.ResetTimer()
	for range b.N {
		crdTime += write(withCRD)
		plainTime += write(plain)
		start := time.Now()
		for i := range bodies {
			validate(bodies[i], bodies[(i+1)%writes])
		}
		validatorTime += time.Since(start)
	}
	n := float64(b.N * writes)
	perCRD, perPlain, perValidators := float64(crdTime.Microseconds())/n, float64(plainTime.Microseconds())/n, float64(validatorTime.Microseconds())/n
	b.ReportMetric(perCRD, "us/crd-write")
	b.ReportMetric(perPlain, "us/plain-write")
	b.ReportMetric(perValidators, "us/validators")
	b.ReportMetric((perCRD-perPlain)/perValidators, "own-cost-x-validators")
	if u := withCRD.Unserved(); len(u) != 0 {
		b.Fatalf("the server could not serve: %v", u)
	}
}

// validatorsAlone is what apiextensions' own packages cost on an update of
// the bench object: the body decoded, pruned and defaulted by the
// structural schema, then the registry strategy's PrepareForUpdate and
// ValidateUpdate (OpenAPI schema validation and the CEL rules, compiled
// once here, as kube-apiserver compiles them once per CRD version).
func validatorsAlone(b *testing.B, crd *apiextensionsv1.CustomResourceDefinition) func(next, old []byte) {
	internal := &apiextensions.CustomResourceValidation{}
	if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(crd.Spec.Versions[0].Schema, internal, nil); err != nil {
		b.Fatal(err)
	}
	structural, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
	if err != nil {
		b.Fatal(err)
	}
	validator, _, err := apiservervalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
	if err != nil {
		b.Fatal(err)
	}
	statusSchema := internal.OpenAPIV3Schema.Properties["status"]
	statusValidator, _, err := apiservervalidation.NewSchemaValidator(&statusSchema)
	if err != nil {
		b.Fatal(err)
	}
	kind := schema.GroupVersionKind{Group: "bench.example", Version: "v1", Kind: "Bench"}
	strategy := customresource.NewStrategy(unstructuredscheme.NewUnstructuredObjectTyper(), true, kind, validator, statusValidator, structural,
		&apiextensions.CustomResourceSubresourceStatus{}, nil, nil)
	ctx := genericapirequest.WithNamespace(context.Background(), "default")
	decode := func(body []byte) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(body); err != nil {
			b.Fatal(err)
		}
		structuralpruning.Prune(u.Object, structural, true)
		structuraldefaulting.Default(u.Object, structural)
		return u
	}
	return func(next, old []byte) {
		n, o := decode(next), decode(old)
		o.SetGeneration(1)
		o.SetResourceVersion("1")
		n.SetResourceVersion("1")
		strategy.PrepareForUpdate(ctx, n, o)
		if errs := strategy.ValidateUpdate(ctx, n, o); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}
