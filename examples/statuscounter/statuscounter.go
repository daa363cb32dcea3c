// Package statuscounter is a small client-go controller with the status
// pattern of kube-controller-manager's ReplicaSet controller, for the
// simulator's tests and searches: a deposed leader's retry after a conflict
// sends a status computed from its old cache with a fresh resourceVersion.
package statuscounter

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"

	"github.com/leaderlab/leaderlab/sim"
)

// Controller is a client-go controller with the status pattern of
// kube-controller-manager's ReplicaSet controller: while it leads, it counts
// the pods of ReplicaSet default/web in its informer cache and writes the
// count to status.replicas, with context.TODO(), so a write outlives the
// term; on a conflict it reads the ReplicaSet again and sends the count it
// computed from its cache with the fresh resourceVersion. Its process does
// not exit when it loses the lease: it joins the election again, as the
// built-in candidate does. Fixed is the fix a controller author would make:
// on a conflict, give up and count again on the next sync, from a cache that
// has caught up by then.
type Controller struct{ Fixed bool }

// Run is the candidate's process: sim.Options.Run.
func (s Controller) Run(ctx context.Context, p *sim.Process) {
	cs := kubernetes.NewForConfigOrDie(p.Config)
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace("default"))
	pods, sets := factory.Core().V1().Pods().Lister(), factory.Apps().V1().ReplicaSets().Lister()
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	factory.WaitForCacheSync(ctx.Done())
	// The work of each term runs on a goroutine of the process's own, which
	// Run waits for: client-go does not wait for OnStartedLeading.
	terms := make(chan context.Context, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case term := <-terms:
				for term.Err() == nil {
					s.sync(cs, pods.Pods("default").List, sets.ReplicaSets("default").Get)
					time.Sleep(100 * time.Millisecond)
				}
			}
		}
	})
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(p.ElectionConfig(leaderelection.LeaderCallbacks{
			OnStartedLeading: func(term context.Context) { terms <- term },
		}))
		if err != nil {
			panic(err)
		}
		le.Run(ctx)
	}
}

func (s Controller) sync(cs kubernetes.Interface, listPods func(labels.Selector) ([]*corev1.Pod, error), getSet func(string) (*appsv1.ReplicaSet, error)) {
	rs, err := getSet("web")
	if err != nil {
		return
	}
	selector, _ := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	list, _ := listPods(selector)
	n := int32(len(list))
	if rs.Status.Replicas == n {
		return
	}
	next := rs.DeepCopy()
	next.Status.Replicas = n
	_, err = cs.AppsV1().ReplicaSets("default").UpdateStatus(context.TODO(), next, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) || s.Fixed {
		return
	}
	fresh, err := cs.AppsV1().ReplicaSets("default").Get(context.TODO(), "web", metav1.GetOptions{})
	if err != nil {
		return
	}
	fresh.Status.Replicas = n // from the cache, as it was before the conflict
	_, _ = cs.AppsV1().ReplicaSets("default").UpdateStatus(context.TODO(), fresh, metav1.UpdateOptions{})
}

// Pod is pod i of ReplicaSet default/web.
func Pod(i int) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Namespace: "default", Labels: map[string]string{"app": "web"}}}
}

// ReplicaSet is default/web, the ReplicaSet whose pods Controller counts.
func ReplicaSet() *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:       appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}
}
