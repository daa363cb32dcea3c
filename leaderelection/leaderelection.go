package leaderelection

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
)

// inClusterNamespacePath is where a pod finds its own namespace. A variable so that
// tests can point it elsewhere.
var inClusterNamespacePath = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// UserAgentSuffix is appended to the caller's user agent on the lock's client, as
// controller-runtime does, so that API server audit logs tell leader election
// traffic apart from the controller's own.
const UserAgentSuffix = "leader-election"

// MinClientTimeout is the smallest client timeout NewResourceLock sets when
// RenewDeadline is given.
const MinClientTimeout = time.Second

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
	rest.AddUserAgent(config, UserAgentSuffix)
	if options.RenewDeadline > 0 {
		config.Timeout = ClientTimeout(options.RenewDeadline)
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("leaderelection: building client: %w", err)
	}

	lockConfig := resourcelock.ResourceLockConfig{Identity: resolved.Identity}
	if recorderProvider != nil {
		lockConfig.EventRecorder = recorderProvider.GetEventRecorderFor(resolved.Identity) //nolint:staticcheck // resourcelock still takes the old recorder interface.
	}
	return resourcelock.NewWithLabels(resolved.LeaderElectionResourceLock,
		resolved.LeaderElectionNamespace, resolved.LeaderElectionID,
		client.CoreV1(), client.CoordinationV1(), lockConfig, resolved.LeaderLabels)
}

// ClientTimeout is the client timeout NewResourceLock sets for a positive
// renewDeadline: max(renewDeadline/2, MinClientTimeout).
func ClientTimeout(renewDeadline time.Duration) time.Duration {
	return max(renewDeadline/2, MinClientTimeout)
}

// Resolve applies the defaults and checks every rule NewResourceLock applies,
// without building a client. It returns the options NewResourceLock would use:
// lock kind, namespace and identity filled in. Other packages (the fake lock, the
// simulator) call it so that all locks agree on the rules.
func Resolve(options Options) (Options, error) { return options.resolve() }

func (o Options) resolve() (Options, error) {
	switch o.LeaderElectionResourceLock {
	case "":
		o.LeaderElectionResourceLock = resourcelock.LeasesResourceLock
	case resourcelock.LeasesResourceLock:
	case "endpoints", "configmaps", "endpointsleases", "configmapsleases":
		return o, fmt.Errorf("leaderelection: lock kind %q was removed from client-go; set LeaderElectionResourceLock to %q (controller-runtime v0.7 to v0.11 users: migrate through a release that uses %q first)",
			o.LeaderElectionResourceLock, resourcelock.LeasesResourceLock, o.LeaderElectionResourceLock+"leases")
	default:
		return o, fmt.Errorf("leaderelection: unknown lock kind %q; the only supported kind is %q",
			o.LeaderElectionResourceLock, resourcelock.LeasesResourceLock)
	}

	if o.LeaderElectionID == "" {
		return o, errors.New("leaderelection: LeaderElectionID must be configured")
	}
	if errs := validation.NameIsDNSSubdomain(o.LeaderElectionID, false); len(errs) > 0 {
		return o, fmt.Errorf("leaderelection: LeaderElectionID %q is not a valid object name: %s", o.LeaderElectionID, strings.Join(errs, "; "))
	}

	if o.LeaderElectionNamespace == "" {
		ns, err := inClusterNamespace()
		if err != nil {
			return o, fmt.Errorf("leaderelection: unable to find leader election namespace: %w", err)
		}
		o.LeaderElectionNamespace = ns
	}
	if errs := validation.ValidateNamespaceName(o.LeaderElectionNamespace, false); len(errs) > 0 {
		return o, fmt.Errorf("leaderelection: LeaderElectionNamespace %q is not a valid namespace name: %s", o.LeaderElectionNamespace, strings.Join(errs, "; "))
	}

	if o.RenewDeadline < 0 {
		return o, fmt.Errorf("leaderelection: RenewDeadline (%v) must not be negative", o.RenewDeadline)
	}

	if o.Identity == "" {
		host, err := os.Hostname()
		if err != nil {
			return o, fmt.Errorf("leaderelection: generating identity: %w", err)
		}
		o.Identity = host + "_" + string(uuid.NewUUID())
	}
	return o, nil
}

// inClusterNamespace reads the pod's namespace from its service account. Unlike
// controller-runtime it trims surrounding white space, so a namespace file written
// by hand with a trailing newline still works.
func inClusterNamespace() (string, error) {
	data, err := os.ReadFile(inClusterNamespacePath)
	if errors.Is(err, os.ErrNotExist) {
		return "", errors.New("not running in-cluster, please specify LeaderElectionNamespace")
	}
	if err != nil {
		return "", fmt.Errorf("reading namespace file: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}
