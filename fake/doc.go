// Package fake provides leader election locks and a clientset for tests that
// behave like a Kubernetes API server where it matters for leader election:
// writes are checked against resourceVersions, so two candidates can never both
// take one lease.
//
// # What is in it
//
//   - NewResourceLock: a drop-in for controller-runtime's
//     pkg/leaderelection/fake.NewResourceLock (same signature, with leaderlab's
//     leaderelection.Options). The lock starts out holding leadership, so a
//     manager given it through manager.Options.LeaderElectionResourceLockInterface
//     becomes leader at once, and it satisfies ControllableResourceLockInterface
//     (BlockLeaderElection, UnblockLeaderElection). Unlike controller-runtime's it
//     is safe for concurrent use and its lease can be stolen, expired or deleted.
//   - Lease and Lock: one shared lease record and one lock per candidate
//     (lease.Lock(identity)). N real client-go LeaderElectors, or N managers,
//     contend for it as on a cluster: Create on an existing lease gets
//     AlreadyExists, Update based on an old read gets Conflict, Get on a missing
//     lease gets NotFound, all real apimachinery errors for
//     "leases.coordination.k8s.io". Like client-go's LeaseLock, a Lock remembers
//     the resourceVersion it last saw and sends it with Update.
//   - Control and faults: Lease.Steal, Lease.Expire and Lease.Delete act as a
//     foreign writer; Lock.FailNext, Lock.Delay, Lock.BlockLeaderElection and
//     Lock.Intercept (Funcs, in the style of controller-runtime's
//     client/interceptor) change what a candidate's calls do. Lease.State,
//     Lease.History and Lease.Calls show what happened.
//   - NewClientset: client-go's fake clientset whose storage assigns
//     resourceVersions and UIDs and answers a stale update, patch or delete with
//     409 Conflict, for every resource. A client-go LeaseLock on it passes the
//     same contract tests as on kube-apiserver. NewObjectTracker is the same
//     storage for other fakes.
//
// The in-memory Kubernetes API server that real clients live on, with your
// custom resources, is package apiserver (fake/apiserver): it pulls in
// kube-apiserver's CRD machinery, which users of the locks need not compile.
//
// The locks pass one contract test suite together with client-go's LeaseLock on
// NewClientset and on a real kube-apiserver, so what a test learns from them
// holds on a cluster.
//
// # What it is not for
//
// It does not measure failover timing under latency, partitions or crashes with
// client-go's own HTTP stack; that is the simulator's job (package sim).
//
// # Time
//
// Everything uses time.Now and timers and never sleeps or blocks while holding
// a mutex, so it works in real time and inside testing/synctest bubbles, where
// delays cost no wall time. Times in State, History and Calls are time.Now at
// the event, which is virtual time inside a bubble.
//
// # Current limitations
//
//   - Concurrency: every method of Lease and Lock is safe for concurrent use.
//     A Lock, like client-go's LeaseLock, keeps one remembered resourceVersion;
//     two goroutines sharing one Lock overwrite each other's, as they would
//     sharing one LeaseLock. Give each candidate its own Lock.
//   - Delay and cancellation: a call whose context is done before or during its
//     request leg returns the context's error at once and never reaches the
//     lease. A write cancelled during its response leg has landed (as on a real
//     server when the client gives up on a slow answer), but the lock does not
//     learn the new resourceVersion, so its next Update gets a Conflict, exactly
//     as client-go's LeaseLock would.
//   - Expire writes leaseDurationSeconds 0, which client-go reads as "expired
//     now" but a real API server would refuse (it requires a positive value).
//     The holder may renew before anyone else takes the lease, as on a cluster.
//   - An update of a deleted lease is a Conflict, not NotFound, as on
//     kube-apiserver (the update carries the old lease's UID).
//   - Times are stored with microsecond precision, as a Lease's MicroTime
//     fields are on the wire; the raw record that electors compare is JSON with
//     second precision, as client-go's LeaseLock produces it.
//   - RecordEvent does nothing: no events are emitted, and NewResourceLock
//     ignores its config and recorderProvider, as controller-runtime's fake does.
//   - NewResourceLock ignores options.LeaderElection and always returns a lock,
//     as controller-runtime's fake does; every call makes a new lease, so two
//     managers built with it never contend. Use NewLease to share one.
//   - Only the "leases" lock kind exists, and coordinated leader election
//     (Strategy, PreferredHolder) is stored but not interpreted.
//   - NewClientset checks resourceVersions and UIDs only: no field validation,
//     no generation or creationTimestamp, no finalizers or garbage collection.
//     Its lists, objects and watches share one resourceVersion sequence, so a
//     watch from any version the client saw delivers every later write (one
//     older than its last 10,000 writes gets 410 Expired), but watches ignore
//     label and field selectors, as client-go's fake does. Writes made
//     directly through its Tracker() bypass the checks and reach no watch. Its
//     store is its own, as client-go's fake keeps one: for a typed fake that
//     shares an API server's store (the same objects, resourceVersions and
//     watches, and the server's rules: the namespace must exist), use
//     apiserver.Server.Clientset.
package fake
