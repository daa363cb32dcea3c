package lockrules

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// InClusterNamespaceFile is where a pod finds its own namespace: the service
// account's namespace file, which the kubelet mounts into every pod.
const InClusterNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// MinClientTimeout is the floor of ClientTimeout. Half of a short renew
// deadline would otherwise leave too little time for an ordinary round trip
// to an API server under load, and every renew would time out.
const MinClientTimeout = time.Second

// ClientTimeout is the client timeout a lock's client gets for a positive
// renewDeadline: max(renewDeadline/2, MinClientTimeout), as controller-runtime
// sets it. Half the deadline means one hung request cannot use up the whole
// renew deadline: the elector still has time to retry before it must step
// down. The caller decides what a zero renewDeadline means (the lock keeps
// the caller's timeout).
func ClientTimeout(renewDeadline time.Duration) time.Duration {
	return max(renewDeadline/2, MinClientTimeout)
}

// Options are the fields of leaderelection.Options that the rules read, with
// the same names and meanings. They are copied into this struct, rather than
// read from leaderelection.Options, so that this package does not import
// leaderelection, which imports it.
type Options struct {
	LeaderElectionResourceLock string
	LeaderElectionNamespace    string
	LeaderElectionID           string
	RenewDeadline              time.Duration
	Identity                   string
}

// Resolve applies the defaults and checks every rule of leaderelection's
// NewResourceLock, in its order, without building a client. It returns o with
// the lock kind, namespace and identity filled in:
//
//   - LeaderElectionResourceLock "" becomes "leases"; a removed kind fails with
//     the migration its users need, any other kind fails as unknown.
//   - LeaderElectionID must be a valid object name (CheckName).
//   - An empty LeaderElectionNamespace is read from namespaceFile (normally
//     InClusterNamespaceFile; tests point it elsewhere), white space trimmed;
//     outside a cluster that is an error. The result must be a valid namespace
//     name (CheckNamespace).
//   - RenewDeadline must not be negative.
//   - An empty Identity becomes hostname + "_" + a fresh UUID, as
//     controller-runtime generates it.
//
// The errors name the fields of leaderelection.Options and have no package
// prefix.
func Resolve(o Options, namespaceFile string) (Options, error) {
	kind, err := lockKind(o.LeaderElectionResourceLock)
	if err != nil {
		return o, err
	}
	o.LeaderElectionResourceLock = kind

	if err := CheckName("LeaderElectionID", o.LeaderElectionID); err != nil {
		return o, err
	}

	if o.LeaderElectionNamespace == "" {
		ns, err := inClusterNamespace(namespaceFile)
		if err != nil {
			return o, fmt.Errorf("unable to find leader election namespace: %w", err)
		}
		o.LeaderElectionNamespace = ns
	}
	if err := CheckNamespace("LeaderElectionNamespace", o.LeaderElectionNamespace); err != nil {
		return o, err
	}

	if o.RenewDeadline < 0 {
		return o, fmt.Errorf("RenewDeadline (%v) must not be negative", o.RenewDeadline)
	}

	if o.Identity == "" {
		host, err := os.Hostname()
		if err != nil {
			return o, fmt.Errorf("generating identity: %w", err)
		}
		o.Identity = host + "_" + string(uuid.NewUUID())
	}
	return o, nil
}

// lockKind returns the lock kind to build for kind. Removed kinds get advice
// that depends on where their users stand: the single-object kinds
// (endpoints, configmaps) must not jump to "leases" in one rolling update,
// because old and new replicas would watch different objects and could lead
// at once; the multilocks (endpointsleases, configmapsleases) already keep a
// lease of the same name that every replica watches, so their users switch
// to "leases" directly.
func lockKind(kind string) (string, error) {
	switch kind {
	case "", resourcelock.LeasesResourceLock:
		return resourcelock.LeasesResourceLock, nil
	case "endpoints", "configmaps":
		return "", fmt.Errorf("lock kind %q was removed from client-go; set LeaderElectionResourceLock to %q (controller-runtime v0.7 to v0.11 users: migrate through a release that uses %q first)",
			kind, resourcelock.LeasesResourceLock, kind+resourcelock.LeasesResourceLock)
	case "endpointsleases", "configmapsleases":
		return "", fmt.Errorf("lock kind %q was removed from client-go; set LeaderElectionResourceLock to %q directly: this multilock already keeps its record in a lease of the same name",
			kind, resourcelock.LeasesResourceLock)
	default:
		return "", fmt.Errorf("unknown lock kind %q; the only supported kind is %q", kind, resourcelock.LeasesResourceLock)
	}
}

// CheckName returns an error unless name can name a lease: a Kubernetes object
// name (a DNS-1123 subdomain, at most 253 characters). field is the option
// the name came from, for the error message. Checking before any request
// turns what would be the elector's first failed request into an error at
// construction.
func CheckName(field, name string) error {
	if name == "" {
		return fmt.Errorf("%s must not be empty", field)
	}
	if errs := validation.NameIsDNSSubdomain(name, false); len(errs) > 0 {
		return fmt.Errorf("%s %q is not a valid object name: %s", field, name, strings.Join(errs, "; "))
	}
	return nil
}

// CheckNamespace returns an error unless namespace can hold a lease: a
// Kubernetes namespace name (a DNS-1123 label, at most 63 characters). field
// is the option the namespace came from, for the error message.
func CheckNamespace(field, namespace string) error {
	if namespace == "" {
		return fmt.Errorf("%s must not be empty", field)
	}
	if errs := validation.ValidateNamespaceName(namespace, false); len(errs) > 0 {
		return fmt.Errorf("%s %q is not a valid namespace name: %s", field, namespace, strings.Join(errs, "; "))
	}
	return nil
}

// inClusterNamespace reads the pod's namespace from file. Unlike
// controller-runtime it trims surrounding white space, so a namespace file
// written by hand with a trailing newline still works.
func inClusterNamespace(file string) (string, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return "", errors.New("not running in-cluster, please specify LeaderElectionNamespace")
	}
	if err != nil {
		return "", fmt.Errorf("reading namespace file: %w", err)
	}
	ns := strings.TrimSpace(string(data))
	if ns == "" {
		return "", fmt.Errorf("namespace file %s is empty", file)
	}
	return ns, nil
}
