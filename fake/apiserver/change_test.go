package apiserver_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/leaderlab/leaderlab/fake/apiserver"
)

// OnChange hears of every stored write, in resourceVersion order, with the
// object before and after, and who made it: a request (not a dry run), or
// the server's own garbage collector.
func TestOnChange(t *testing.T) {
	var mu sync.Mutex
	var changes []apiserver.Change
	collected := make(chan struct{})
	srv, err := apiserver.New(apiserver.WithControllers(apiserver.Controllers{GarbageCollection: true, Delay: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	srv.OnChange(func(ch apiserver.Change) {
		mu.Lock()
		defer mu.Unlock()
		changes = append(changes, ch)
		if ch.By == apiserver.GarbageCollector {
			close(collected)
		}
	})
	cs := kubernetes.NewForConfigOrDie(srv.Config())
	ctx := context.Background()
	owner, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dep := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dep", OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: owner.UID}}}}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, dep, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	owner.Data = map[string]string{"v": "1"}
	if _, err := cs.CoreV1().ConfigMaps("default").Update(ctx, owner, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().ConfigMaps("default").Delete(ctx, "owner", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-collected:
	case <-time.After(10 * time.Second):
		t.Fatal("the garbage collector did not delete the dependent")
	}
	mu.Lock()
	defer mu.Unlock()
	type seen struct {
		name    string
		typ     watch.EventType
		by      string
		request bool
		data    string // Object's data["v"]
		prev    bool
	}
	want := []seen{
		{"owner", watch.Added, "", true, "", false},
		{"dep", watch.Added, "", true, "", false},
		{"owner", watch.Modified, "", true, "1", true},
		{"owner", watch.Deleted, "", true, "1", true},
		{"dep", watch.Deleted, apiserver.GarbageCollector, false, "", true},
	}
	if len(changes) != len(want) {
		t.Fatalf("%d changes, want %d: %+v", len(changes), len(want), changes)
	}
	var last uint64
	for i, ch := range changes {
		got := seen{ch.Name, ch.Type, ch.By, ch.Request != nil, ch.Object.(*corev1.ConfigMap).Data["v"], ch.Previous != nil}
		if got != want[i] {
			t.Errorf("change %d: %+v, want %+v", i, got, want[i])
		}
		if ch.Resource.Resource != "configmaps" || ch.Kind.Kind != "ConfigMap" || ch.Namespace != "default" {
			t.Errorf("change %d: %v %v %s, want configmaps, ConfigMap in default", i, ch.Resource, ch.Kind, ch.Namespace)
		}
		rv, err := strconv.ParseUint(ch.ResourceVersion, 10, 64)
		if err != nil || rv <= last {
			t.Errorf("change %d: resourceVersion %s not after the one before", i, ch.ResourceVersion)
		}
		last = rv
	}
}
