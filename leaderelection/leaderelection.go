package leaderelection

import (
	"errors"
	"fmt"
	"time"

	coordinationv1 "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/util/flowcontrol"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/leaderlab/leaderlab/internal/lockrules"
)

// inClusterNamespacePath is where a pod finds its own namespace. A variable so that
// tests can point it elsewhere.
var inClusterNamespacePath = lockrules.InClusterNamespaceFile

// userAgentSuffix is appended to the caller's user agent on the lock's client, as
// controller-runtime does, so that API server audit logs tell leader election
// traffic apart from the controller's own.
const userAgentSuffix = "leader-election"

// Options configures NewResourceLock. Its first six fields mean exactly what the
// fields of the same name in controller-runtime's pkg/leaderelection.Options mean,
// so a manager's options copy across field by field.
type Options struct {
	// LeaderElection enables the lock. When false NewResourceLock returns
	// (nil, nil), as controller-runtime does, so callers can pass their flag through.
	LeaderElection bool

	// LeaderElectionResourceLock is the lock kind. Empty means "leases", the only
	// kind client-go still supports; the removed kinds (endpoints, configmaps,
	// endpointsleases, configmapsleases) fail with an error that names the migration.
	LeaderElectionResourceLock string

	// LeaderElectionNamespace is the namespace of the lease. Empty means the
	// namespace of the pod (read from the service account's namespace file);
	// outside a cluster an empty namespace is an error.
	LeaderElectionNamespace string

	// LeaderElectionID is the name of the lease. Required, and it must be a valid
	// Kubernetes object name (a DNS-1123 subdomain).
	LeaderElectionID string

	// RenewDeadline is the renew deadline the caller gives its elector. When it is
	// positive the lock's client timeout becomes max(RenewDeadline/2, 1s), so that a
	// single hung request cannot use up the whole deadline. Zero leaves the caller's
	// timeout as it is; negative is an error.
	RenewDeadline time.Duration

	// LeaderLabels are written on the lease by whichever candidate holds it.
	LeaderLabels map[string]string

	// Identity names this candidate in the lease's holderIdentity. Empty means
	// hostname + "_" + a fresh UUID, as controller-runtime generates; set it when a
	// test or a stateful workload needs a stable, readable name.
	Identity string
}

// NewResourceLock returns the lease lock a client-go LeaderElector (or a
// controller-runtime manager, through LeaderElectionResourceLockInterface) uses.
// It behaves like controller-runtime's NewResourceLock with the differences listed
// in the package documentation. config is never modified.
func NewResourceLock(config *rest.Config, recorderProvider recorder.Provider, options Options) (resourcelock.Interface, error) {
	if !options.LeaderElection {
		return nil, nil
	}
	if config == nil {
		return nil, errors.New("leaderelection: rest config must not be nil")
	}
	resolved, err := options.resolve()
	if err != nil {
		return nil, err
	}

	// Work on a copy: rest.AddUserAgent and the timeout below would otherwise
	// change the caller's config, and with it every other client built from it.
	config = rest.CopyConfig(config)
	rest.AddUserAgent(config, userAgentSuffix)
	if options.RenewDeadline > 0 {
		config.Timeout = lockrules.ClientTimeout(options.RenewDeadline)
	}
	// The lock needs two groups' clients, not a whole clientset; they share
	// one rate limiter, as a clientset's do.
	if config.RateLimiter == nil && config.QPS > 0 {
		config.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(config.QPS, config.Burst)
	}
	httpClient, err := rest.HTTPClientFor(config)
	if err != nil {
		return nil, fmt.Errorf("leaderelection: building client: %w", err)
	}
	core, err := corev1.NewForConfigAndClient(config, httpClient)
	if err != nil {
		return nil, fmt.Errorf("leaderelection: building client: %w", err)
	}
	coordination, err := coordinationv1.NewForConfigAndClient(config, httpClient)
	if err != nil {
		return nil, fmt.Errorf("leaderelection: building client: %w", err)
	}

	lockConfig := resourcelock.ResourceLockConfig{Identity: resolved.Identity}
	if recorderProvider != nil {
		lockConfig.EventRecorder = recorderProvider.GetEventRecorderFor(resolved.Identity) //nolint:staticcheck // resourcelock still takes the old recorder interface.
	}
	return resourcelock.NewWithLabels(resolved.LeaderElectionResourceLock,
		resolved.LeaderElectionNamespace, resolved.LeaderElectionID,
		core, coordination, lockConfig, resolved.LeaderLabels)
}

// resolve applies the defaults and checks the rules of the package
// documentation; it returns the options the lock is built from.
func (o Options) resolve() (Options, error) {
	r, err := lockrules.Resolve(lockrules.Options{
		LeaderElectionResourceLock: o.LeaderElectionResourceLock,
		LeaderElectionNamespace:    o.LeaderElectionNamespace,
		LeaderElectionID:           o.LeaderElectionID,
		RenewDeadline:              o.RenewDeadline,
		Identity:                   o.Identity,
	}, inClusterNamespacePath)
	if err != nil {
		return o, fmt.Errorf("leaderelection: %w", err)
	}
	o.LeaderElectionResourceLock, o.LeaderElectionNamespace, o.Identity = r.LeaderElectionResourceLock, r.LeaderElectionNamespace, r.Identity
	return o, nil
}
