// Package leaderelection builds the lease lock that Kubernetes leader election
// runs on. It is a drop-in replacement for controller-runtime's
// pkg/leaderelection: NewResourceLock has the same signature, and Options has the
// same fields with the same defaults, plus Identity.
//
// Use it to build the lock for a client-go LeaderElector, or pass its result to a
// controller-runtime manager through manager.Options.LeaderElectionResourceLockInterface.
// The rest of leaderlab (the fake lock, the simulator) builds its candidates on it,
// so what the simulator measures is this code.
//
// # Same as controller-runtime
//
//   - LeaderElection false returns (nil, nil).
//   - The lock kind defaults to "leases".
//   - LeaderElectionID is required.
//   - An empty namespace means the pod's namespace, read from the service
//     account's namespace file; outside a cluster that is an error.
//   - The identity is hostname + "_" + a fresh UUID.
//   - A positive RenewDeadline sets the client timeout to max(RenewDeadline/2, 1s),
//     so that one hung request cannot use up the whole renew deadline; without it,
//     a single slow response can cost the leader its lease.
//   - LeaderLabels are written on the lease by the holder.
//   - Events go to the recorder recorderProvider.GetEventRecorderFor(identity) returns,
//     and the client's user agent is the default Kubernetes user agent plus
//     "/leader-election".
//
// # Different from controller-runtime
//
//   - The caller's *rest.Config is never modified. controller-runtime calls
//     rest.AddUserAgent and sets Timeout on the config it is given, so every other
//     client the caller later builds from it inherits the leader election timeout.
//   - Options.Identity overrides the generated identity.
//   - A nil recorderProvider means no events, instead of a nil pointer panic.
//   - Removed lock kinds (endpoints, configmaps, endpointsleases,
//     configmapsleases) and unknown kinds fail with an error that names the fix.
//   - An ID or namespace that is not a valid Kubernetes name, or a negative
//     RenewDeadline, fails before any request is sent, instead of on the first
//     request of the elector.
//   - White space around the in-cluster namespace file's content is ignored,
//     and an empty file is an error instead of an empty namespace.
//
// # Limits
//
// Only the "leases" kind exists, as in client-go. The package does not run the
// election: pair the lock with client-go's leaderelection.LeaderElector (or a
// manager) and choose LeaseDuration, RenewDeadline and RetryPeriod there. Lease
// durations are whole seconds on the wire (leaseDurationSeconds), so client-go
// truncates a fractional LeaseDuration.
package leaderelection
