package lockrules_test

import (
	"fmt"
	"time"

	"github.com/leaderlab/leaderlab/internal/lockrules"
)

// A caller with options of its own checks them with the rules of the lock
// they end up in, naming its own fields, and derives the client timeout the
// lock will set.
func Example() {
	fmt.Println(lockrules.CheckName("LeaseName", ""))
	fmt.Println(lockrules.CheckNamespace("Namespace", "kube.system"))
	fmt.Println(lockrules.ClientTimeout(10*time.Second), lockrules.ClientTimeout(time.Second))
	// Output:
	// LeaseName must not be empty
	// Namespace "kube.system" is not a valid namespace name: must not contain dots
	// 5s 1s
}

// Resolve fills in the defaults leaderelection.NewResourceLock uses and
// rejects what it rejects, with errors that name leaderelection.Options'
// fields.
func ExampleResolve() {
	o, err := lockrules.Resolve(lockrules.Options{LeaderElectionNamespace: "ops", LeaderElectionID: "my-operator", Identity: "replica-0"}, lockrules.InClusterNamespaceFile)
	fmt.Println(o.LeaderElectionResourceLock, o.LeaderElectionNamespace, o.LeaderElectionID, o.Identity, err)

	_, err = lockrules.Resolve(lockrules.Options{LeaderElectionResourceLock: "configmapsleases", LeaderElectionID: "my-operator"}, lockrules.InClusterNamespaceFile)
	fmt.Println(err)
	// Output:
	// leases ops my-operator replica-0 <nil>
	// lock kind "configmapsleases" was removed from client-go; set LeaderElectionResourceLock to "leases" directly: this multilock already keeps its record in a lease of the same name
}
