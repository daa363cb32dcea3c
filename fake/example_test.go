package fake_test

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/klog/v2"

	"github.com/leaderlab/leaderlab/fake"
	ll "github.com/leaderlab/leaderlab/leaderelection"
)

// Two real client-go electors on one shared fake lease: the first takes it,
// the second finds it held and waits.
func ExampleLease() {
	lease := fake.NewLease("default", "my-controller")
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), logr.Discard()))
	defer cancel()

	elect := func(id string) (leading chan struct{}, done chan struct{}) {
		leading, done = make(chan struct{}), make(chan struct{})
		el, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:          lease.Lock(id),
			LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(context.Context) { close(leading) },
				OnStoppedLeading: func() {},
			},
		})
		if err != nil {
			panic(err)
		}
		go func() { defer close(done); el.Run(ctx) }()
		return leading, done
	}

	aLeading, aDone := elect("a")
	<-aLeading
	_, bDone := elect("b")
	firstCallOf := func(id string) (fake.Call, bool) {
		for _, c := range lease.Calls() {
			if c.Identity == id {
				return c, true
			}
		}
		return fake.Call{}, false
	}
	bCall, ok := firstCallOf("b")
	for ; !ok; bCall, ok = firstCallOf("b") {
		time.Sleep(time.Millisecond)
	}
	aCall, _ := firstCallOf("a")
	fmt.Println("a:", aCall.Verb, apierrors.ReasonForError(aCall.Err))
	fmt.Println("b:", bCall.Verb, "sees holder", bCall.Record.HolderIdentity)
	fmt.Println("holder:", lease.State().Record.HolderIdentity)
	cancel()
	<-aDone
	<-bDone
	// Output:
	// a: get NotFound
	// b: get sees holder a
	// holder: a
}

// Fault injection: the next renew fails with 503, a stolen lease makes the
// holder's renew conflict.
func ExampleLock_FailNext() {
	lock, _ := fake.NewResourceLock(nil, nil, ll.Options{Identity: "me"})
	fl := lock.(*fake.Lock)
	ctx := context.Background()

	rec, _, _ := fl.Get(ctx)
	_ = fl.FailNext(fake.VerbUpdate, 1, apierrors.NewServiceUnavailable("etcd is down"))
	fmt.Println(fl.Update(ctx, *rec))
	fmt.Println(fl.Update(ctx, *rec))

	_ = fl.Lease().Steal("intruder")
	fmt.Println(apierrors.IsConflict(fl.Update(ctx, *rec)))
	fmt.Println("holder:", fl.Lease().State().Record.HolderIdentity)
	// Output:
	// etcd is down
	// <nil>
	// true
	// holder: intruder
}

// NewClientset answers a write based on an old read with 409 Conflict, for
// every resource, as a real API server does.
func ExampleNewClientset() {
	ctx := context.Background()
	cs := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "config"}})
	cms := cs.CoreV1().ConfigMaps("default")

	first, _ := cms.Get(ctx, "config", metav1.GetOptions{})
	second := first.DeepCopy()
	first.Data = map[string]string{"writer": "first"}
	_, err := cms.Update(ctx, first, metav1.UpdateOptions{})
	fmt.Println("first:", err)
	second.Data = map[string]string{"writer": "second"}
	_, err = cms.Update(ctx, second, metav1.UpdateOptions{})
	fmt.Println("second conflicts:", apierrors.IsConflict(err))
	// Output:
	// first: <nil>
	// second conflicts: true
}
