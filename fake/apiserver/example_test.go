package apiserver_test

import (
	"context"
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/leaderlab/leaderlab/fake/apiserver"
)

// A custom resource served from its CRD: the schema's default fills in what
// the client left out, and a CEL rule refuses an invalid object with the
// 422 kube-apiserver sends.
func Example_customResource() {
	srv, err := apiserver.New(apiserver.WithCRDs(&apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets.demo.example"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "demo.example",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: "Widget", Plural: "widgets"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{
						"spec": {
							Type: "object",
							Properties: map[string]apiextensionsv1.JSONSchemaProps{
								"replicas": {Type: "integer", Default: &apiextensionsv1.JSON{Raw: []byte("1")}},
							},
							XValidations: apiextensionsv1.ValidationRules{{Rule: "self.replicas <= 10", Message: "replicas may not exceed 10"}},
						},
					},
				}},
			}},
		},
	}))
	if err != nil {
		panic(err)
	}
	widgets := dynamic.NewForConfigOrDie(srv.Config()).
		Resource(schema.GroupVersionResource{Group: "demo.example", Version: "v1", Resource: "widgets"}).Namespace("default")
	widget := func(name string, spec map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "demo.example/v1", "kind": "Widget", "metadata": map[string]any{"name": name}, "spec": spec,
		}}
	}

	created, err := widgets.Create(context.Background(), widget("a", map[string]any{}), metav1.CreateOptions{})
	if err != nil {
		panic(err)
	}
	replicas, _, _ := unstructured.NestedInt64(created.Object, "spec", "replicas")
	fmt.Println("defaulted replicas:", replicas)

	_, err = widgets.Create(context.Background(), widget("b", map[string]any{"replicas": int64(11)}), metav1.CreateOptions{})
	fmt.Println(err)
	// Output:
	// defaulted replicas: 1
	// Widget.demo.example "b" is invalid: spec: Invalid value: replicas may not exceed 10
}
