package realapi_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/leaderlab/leaderlab/scenarios/realapi"
)

// Measure crash failover with your own timing on your own API server (an
// envtest's Environment.Start() config works as well as a kubeconfig).
func ExampleRun() {
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		log.Fatal(err)
	}
	opts := realapi.Options{
		Timing:     realapi.Timing{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second},
		Candidates: 3,
		Trials:     5,
		Parallel:   5,
		Namespace:  "leader-election-bench",
	}
	res, err := realapi.Run(context.Background(), cfg, opts, realapi.LeaderCrash)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(res.Text())
	if err := res.Check(); err != nil {
		log.Fatal(err)
	}
}

// The bounds a scenario promises are known before anything runs.
func ExampleScenario_Expect() {
	e, err := realapi.LeaderCrash.Expect(realapi.Options{
		Timing: realapi.Timing{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("takeover after the crash:", e.Takeover)
	fmt.Println("overlap:", e.Overlap)

	e, _ = realapi.PartitionWithRelease.Expect(realapi.Options{Timing: realapi.OverlapTiming()})
	fmt.Println("partitioned leader with ReleaseOnCancel, overlap:", e.Overlap)
	// Output:
	// takeover after the crash: [12.9s, 24.4s]
	// overlap: <nil>
	// partitioned leader with ReleaseOnCancel, overlap: [560ms, 2.7s]
}

// Drive a cluster by hand: partition the leader and see who leads.
func ExampleCluster() {
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		log.Fatal(err)
	}
	cl, err := realapi.NewCluster(cfg, realapi.ClusterOptions{Candidates: 3, Namespace: "default", Lease: "my-failover-drill"})
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Start(); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	leader, err := cl.AwaitLeader(ctx, 10*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	if err := cl.Partition(leader); err != nil {
		log.Fatal(err)
	}
	time.Sleep(10 * time.Second)
	report := cl.Close()
	for _, t := range report.Terms {
		fmt.Println(t.Candidate, t.Start, t.End, t.EndCause)
	}
	fmt.Println("overlaps:", len(report.Overlaps))
}

// Compare's verdict is an envelope around the simulated seeds; the rank test
// beside it flags shifts. Five real step-downs 2.5ms later than five
// simulated ones: the rank test alone cannot tell from five values.
func ExampleMannWhitney() {
	var real, simulated []time.Duration
	for i := range 5 {
		simulated = append(simulated, time.Duration(2500+i)*time.Millisecond) // sim: exactly RP + RD, plus microseconds
		real = append(real, time.Duration(2502+i)*time.Millisecond+time.Millisecond/2)
	}
	fmt.Printf("real %+v, sim %+v\n", realapi.Summarize(real).Median, realapi.Summarize(simulated).Median)
	fmt.Printf("p = %.3f\n", realapi.MannWhitney(real, simulated))
	// Output:
	// real 2.5045s, sim 2.502s
	// p = 0.060
}
