package sim_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/leaderlab/leaderlab/fake/apiserver"
	"github.com/leaderlab/leaderlab/sim"
)

// The simulated cluster runs a garbage collector and a namespace
// controller, as kube-controller-manager does: an owner's deletion takes
// its dependents with it, and a deleted namespace empties and goes, within
// a few of their delays of virtual time. Switched off, neither happens, as
// on envtest.
func TestClusterControllers(t *testing.T) {
	for _, on := range []bool{true, false} {
		opts := sim.Options{Seed: 1, Candidates: 1, DisableGarbageCollection: !on, DisableNamespaceLifecycle: !on}
		sim.Test(t, opts, func(c *sim.Cluster) {
			ctx := context.Background()
			cl := c.Client()
			owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner", Namespace: "default"}}
			if err := cl.Create(ctx, owner); err != nil {
				t.Fatal(err)
			}
			child := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "child", Namespace: "default",
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: owner.UID}}}}
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "doomed"}}
			content := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "content", Namespace: "doomed"}}
			for _, obj := range []client.Object{child, ns, content} {
				if err := cl.Create(ctx, obj); err != nil {
					t.Fatal(err)
				}
			}
			if err := cl.Delete(ctx, owner); err != nil {
				t.Fatal(err)
			}
			if err := cl.Delete(ctx, ns); err != nil {
				t.Fatal(err)
			}
			c.Advance(5 * apiserver.DefaultControllerDelay)
			for _, obj := range []client.Object{child, content, ns} {
				err := cl.Get(ctx, client.ObjectKeyFromObject(obj), obj)
				if gone := apierrors.IsNotFound(err); gone != on {
					t.Errorf("controllers on: %v; %s %s/%s gone: %v (%v)", on, obj.GetObjectKind().GroupVersionKind().Kind, obj.GetNamespace(), obj.GetName(), gone, err)
				}
			}
			c.Advance(time.Second)
		})
	}
}
