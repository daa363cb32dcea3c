// Package lockrules holds the rules that leaderlab's lease locks apply to their
// options: the lock kind and its default, which lock kinds were removed and
// what replaces them, what makes a valid lease name and namespace, where an
// empty namespace comes from, the client timeout a renew deadline implies, and
// how an empty identity is generated.
//
// The public packages leaderelection (the real lock) and fake (the fake lock)
// both apply these rules, and the simulator and the real-API harness check
// their own options with them, so that every lock in the module accepts and
// rejects the same options with the same messages. Each rule lives here once.
//
// The package works on plain values (strings, durations and the Options struct
// below, which mirrors the lock fields of leaderelection.Options by name), so
// that it imports none of leaderlab's public packages and every one of them
// can import it.
//
// # Errors
//
// Errors name the option they are about and the bound it breaks, start in
// lower case and carry no package prefix: each public caller adds its own
// ("leaderelection: ", "fake: "), so that a user sees the name of the package
// they called rather than of this internal one. The messages of Resolve name
// the fields of leaderelection.Options; CheckName and CheckNamespace name the
// field their caller passes.
//
// # Not for
//
// It builds no client and sends no request: constructing the lock is the
// caller's job. It knows only the "leases" kind, the one client-go still
// supports.
package lockrules
