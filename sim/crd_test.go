package sim_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/leaderlab/leaderlab/sim"
)

// warningLog keeps the Warning headers a client was sent.
type warningLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *warningLog) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = append(l.seen, text)
}

// A candidate writing a custom resource through the simulated network gets
// what kube-apiserver answers: the object pruned and defaulted by the CRD's
// schema, and the pruned fields as warnings.
func TestCustomResourceThroughTheNetwork(t *testing.T) {
	var (
		warnings warningLog
		created  *unstructured.Unstructured
		err      error
	)
	opts := sim.Options{Seed: 1, Candidates: 1, CRDs: []*apiextensionsv1.CustomResourceDefinition{scaledWidgets()}}
	opts.Run = func(ctx context.Context, p *sim.Process) {
		cfg := rest.CopyConfig(p.Config)
		cfg.WarningHandlerWithContext = &warnings
		widgets := dynamic.NewForConfigOrDie(cfg).Resource(schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}).Namespace("default")
		created, err = widgets.Create(ctx, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "example.com/v1", "kind": "Widget", "metadata": map[string]any{"name": "w"},
			"spec": map[string]any{"replicas": int64(2), "colour": "red"},
		}}, metav1.CreateOptions{})
		<-ctx.Done()
	}
	sim.Test(t, opts, func(c *sim.Cluster) { c.Advance(time.Second) })
	if err != nil {
		t.Fatal(err)
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(created.Object, "spec", "colour"); found {
		t.Errorf("spec.colour was not pruned: %v", created.Object)
	}
	if want := []string{`unknown field "spec.colour"`}; !slices.Equal(warnings.seen, want) {
		t.Errorf("warnings %q, want %q", warnings.seen, want)
	}
}
