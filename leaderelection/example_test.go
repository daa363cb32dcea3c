package leaderelection_test

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"

	ll "github.com/leaderlab/leaderlab/leaderelection"
)

// Build the lock for a client-go LeaderElector. Nothing is sent to the API server
// until the elector runs.
func ExampleNewResourceLock() {
	config := &rest.Config{Host: "https://kubernetes.default.svc"} // usually ctrl.GetConfigOrDie()
	lock, err := ll.NewResourceLock(config, nil, ll.Options{
		LeaderElection:          true,
		LeaderElectionID:        "my-operator-lock",
		LeaderElectionNamespace: "operators",
		RenewDeadline:           10 * time.Second,
		Identity:                "my-operator-0", // stable, for logs and tests; empty means hostname_UUID
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(lock.Describe(), lock.Identity())
	fmt.Println("caller's timeout untouched:", config.Timeout)

	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:          lock,
		LeaseDuration: 15 * time.Second,
		RenewDeadline: 10 * time.Second,
		RetryPeriod:   2 * time.Second,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) { /* run the controllers until ctx is done */ },
			OnStoppedLeading: func() { /* exit, so a restart begins a clean campaign */ },
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = elector // elector.Run(ctx) campaigns until ctx is done or leadership is lost
	// Output:
	// operators/my-operator-lock my-operator-0
	// caller's timeout untouched: 0s
}

// Removed lock kinds fail with an error that says what to use instead.
func ExampleNewResourceLock_removedLockKind() {
	_, err := ll.NewResourceLock(&rest.Config{}, nil, ll.Options{
		LeaderElection:             true,
		LeaderElectionResourceLock: "configmaps",
		LeaderElectionID:           "my-operator-lock",
		LeaderElectionNamespace:    "operators",
	})
	fmt.Println(err)
	// Output:
	// leaderelection: lock kind "configmaps" was removed from client-go; set LeaderElectionResourceLock to "leases" (controller-runtime v0.7 to v0.11 users: migrate through a release that uses "configmapsleases" first)
}
