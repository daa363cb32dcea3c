package apiserver_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// A controller-runtime manager, unmodified, runs on the in-memory server:
// discovery-driven RESTMapper, cache (informers with watch-list), leader
// election on a Lease with its Events, and a reconciler that copies each
// "in" ConfigMap to an "out" one. A dynamic client creates the input, so
// that both client kinds are exercised. It works in real time and inside a
// synctest bubble, where every goroutine the manager started ends with it.
func TestRunsAManager(t *testing.T) {
	run := func(t *testing.T) {
		srv := newServer(t)
		ctx, cancel := context.WithCancel(context.Background())
		mgr, err := manager.New(srv.Config(), manager.Options{
			Logger:                  logr.Discard(),
			LeaderElection:          true,
			LeaderElectionID:        "copier",
			LeaderElectionNamespace: "default",
			LeaseDuration:           new(4 * time.Second),
			RenewDeadline:           new(2 * time.Second),
			RetryPeriod:             new(500 * time.Millisecond),
			Metrics:                 metricsserver.Options{BindAddress: "0"}, // no socket: not durably blocking in a bubble
			HealthProbeBindAddress:  "0",
			Controller:              config.Controller{SkipNameValidation: new(true)},
		})
		if err != nil {
			t.Fatal(err)
		}
		c := mgr.GetClient()
		err = ctrl.NewControllerManagedBy(mgr).For(&corev1.ConfigMap{}).Complete(reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
			var in corev1.ConfigMap
			if req.Name != "in" {
				return reconcile.Result{}, nil
			}
			if err := c.Get(ctx, req.NamespacedName, &in); err != nil {
				return reconcile.Result{}, client.IgnoreNotFound(err)
			}
			out := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "out", Namespace: req.Namespace}, Data: in.Data}
			err := c.Create(ctx, out)
			if apierrors.IsAlreadyExists(err) {
				err = c.Update(ctx, out)
			}
			return reconcile.Result{}, err
		}))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- mgr.Start(ctx) }()

		dyn := dynamic.NewForConfigOrDie(srv.Config())
		in := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "in", "namespace": "default"},
			"data":     map[string]any{"copy": "me"},
		}}
		if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("default").Create(ctx, in, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		cs := kubernetes.NewForConfigOrDie(srv.Config())
		deadline := time.Now().Add(20 * time.Second)
		for {
			out, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "out", metav1.GetOptions{})
			if err == nil && out.Data["copy"] == "me" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the reconciler did not copy the ConfigMap within 20s (last get: %v)", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		lease, err := cs.CoordinationV1().Leases("default").Get(ctx, "copier", metav1.GetOptions{})
		if err != nil || lease.Spec.HolderIdentity == nil {
			t.Errorf("the manager's lease: %v, %+v", err, lease)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
		if u := srv.Unserved(); len(u) != 0 {
			t.Errorf("requests the server could not serve: %v", u)
		}
	}
	t.Run("real time", run)
	t.Run("bubble", func(t *testing.T) {
		// apimachinery's error handler rate-limits with a timestamp of the
		// real clock, taken at package init; in a bubble, whose clock starts
		// in 2000, its first wait would last 26 virtual years.
		saved := utilruntime.ErrorHandlers
		utilruntime.ErrorHandlers = []utilruntime.ErrorHandler{func(context.Context, error, string, ...any) {}}
		defer func() { utilruntime.ErrorHandlers = saved }()
		synctest.Test(t, run)
	})
}
