package leaderelection_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/uuid"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/leaderlab/leaderlab/leaderelection"
)

// offlineConfig points at an address nothing listens on: building a lock sends no
// request, so these tests need no API server.
var offlineConfig = &rest.Config{Host: "https://127.0.0.1:1"}

func valid() leaderelection.Options {
	return leaderelection.Options{LeaderElection: true, LeaderElectionID: "my-operator", LeaderElectionNamespace: "ops"}
}

// notSubdomain is apimachinery's explanation of a DNS-1123 subdomain, the tail
// of the error for a badly formed LeaderElectionID.
const notSubdomain = `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`

func TestNewResourceLockErrors(t *testing.T) {
	noNamespaceFile := leaderelection.SetInClusterNamespacePath(filepath.Join(t.TempDir(), "absent"))
	defer noNamespaceFile()

	long := strings.Repeat("a", 254)
	tests := []struct {
		name    string
		config  *rest.Config
		mutate  func(*leaderelection.Options)
		wantErr string // the whole message
	}{
		{"nil config", nil, func(*leaderelection.Options) {},
			`leaderelection: rest config must not be nil`},
		{"missing ID", offlineConfig, func(o *leaderelection.Options) { o.LeaderElectionID = "" },
			`leaderelection: LeaderElectionID must not be empty`},
		{"ID not a DNS subdomain", offlineConfig, func(o *leaderelection.Options) { o.LeaderElectionID = "My_Operator" },
			`leaderelection: LeaderElectionID "My_Operator" is not a valid object name: ` + notSubdomain},
		{"ID too long", offlineConfig, func(o *leaderelection.Options) { o.LeaderElectionID = long },
			`leaderelection: LeaderElectionID "` + long + `" is not a valid object name: must be no more than 253 characters`},
		{"namespace not a DNS label", offlineConfig, func(o *leaderelection.Options) { o.LeaderElectionNamespace = "kube.system" },
			`leaderelection: LeaderElectionNamespace "kube.system" is not a valid namespace name: must not contain dots`},
		{"no namespace outside a cluster", offlineConfig, func(o *leaderelection.Options) { o.LeaderElectionNamespace = "" },
			`leaderelection: unable to find leader election namespace: not running in-cluster, please specify LeaderElectionNamespace`},
		{"negative renew deadline", offlineConfig, func(o *leaderelection.Options) { o.RenewDeadline = -time.Second },
			`leaderelection: RenewDeadline (-1s) must not be negative`},
		// The single-object kinds need a multilock release in between, or old and
		// new replicas lock different objects during the rollout.
		{"removed endpoints lock", offlineConfig, func(o *leaderelection.Options) { o.LeaderElectionResourceLock = "endpoints" },
			`leaderelection: lock kind "endpoints" was removed from client-go; set LeaderElectionResourceLock to "leases" (controller-runtime v0.7 to v0.11 users: migrate through a release that uses "endpointsleases" first)`},
		{"removed configmaps lock", offlineConfig, func(o *leaderelection.Options) { o.LeaderElectionResourceLock = "configmaps" },
			`leaderelection: lock kind "configmaps" was removed from client-go; set LeaderElectionResourceLock to "leases" (controller-runtime v0.7 to v0.11 users: migrate through a release that uses "configmapsleases" first)`},
		// The multilocks already keep the lease: their users switch directly.
		{"removed endpointsleases lock", offlineConfig, func(o *leaderelection.Options) { o.LeaderElectionResourceLock = "endpointsleases" },
			`leaderelection: lock kind "endpointsleases" was removed from client-go; set LeaderElectionResourceLock to "leases" directly: this multilock already keeps its record in a lease of the same name`},
		{"removed configmapsleases lock", offlineConfig, func(o *leaderelection.Options) { o.LeaderElectionResourceLock = "configmapsleases" },
			`leaderelection: lock kind "configmapsleases" was removed from client-go; set LeaderElectionResourceLock to "leases" directly: this multilock already keeps its record in a lease of the same name`},
		{"unknown lock", offlineConfig, func(o *leaderelection.Options) { o.LeaderElectionResourceLock = "leasez" },
			`leaderelection: unknown lock kind "leasez"; the only supported kind is "leases"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := valid()
			tt.mutate(&opts)
			lock, err := leaderelection.NewResourceLock(tt.config, nil, opts)
			if err == nil {
				t.Fatalf("NewResourceLock returned lock %v and no error", lock)
			}
			if lock != nil {
				t.Errorf("NewResourceLock returned a lock with the error %v", err)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("error\n got %q\nwant %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewResourceLockDisabled(t *testing.T) {
	// Disabled election ignores every other field, as controller-runtime does, so a
	// manager can pass its options through unconditionally.
	lock, err := leaderelection.NewResourceLock(nil, nil, leaderelection.Options{LeaderElectionResourceLock: "endpoints"})
	if lock != nil || err != nil {
		t.Fatalf("NewResourceLock(disabled) = %v, %v; want nil, nil", lock, err)
	}
}

func TestNewResourceLockDefaults(t *testing.T) {
	lock, err := leaderelection.NewResourceLock(offlineConfig, nil, valid())
	if err != nil {
		t.Fatal(err)
	}
	leaseLock, ok := lock.(*resourcelock.LeaseLock)
	if !ok {
		t.Fatalf("default lock is %T, want *resourcelock.LeaseLock", lock)
	}
	if got, want := lock.Describe(), "ops/my-operator"; got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	id := lock.Identity()
	suffix, ok := strings.CutPrefix(id, host+"_")
	if !ok {
		t.Fatalf("identity %q does not start with hostname %q and an underscore", id, host)
	}
	if len(suffix) != len(uuid.NewUUID()) {
		t.Errorf("identity suffix %q is not a UUID", suffix)
	}
	if leaseLock.LockConfig.EventRecorder != nil {
		t.Errorf("nil recorder provider gave an event recorder %T", leaseLock.LockConfig.EventRecorder)
	}
	if got := clientTimeout(t, lock); got != 0 {
		t.Errorf("client timeout without RenewDeadline = %v, want the caller's 0", got)
	}

	other, err := leaderelection.NewResourceLock(offlineConfig, nil, valid())
	if err != nil {
		t.Fatal(err)
	}
	if other.Identity() == id {
		t.Errorf("two locks got the same generated identity %q", id)
	}
}

func TestNewResourceLockIdentityAndLabels(t *testing.T) {
	opts := valid()
	opts.LeaderElectionResourceLock = resourcelock.LeasesResourceLock
	opts.Identity = "replica-0"
	opts.LeaderLabels = map[string]string{"leader": "true"}
	lock, err := leaderelection.NewResourceLock(offlineConfig, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := lock.Identity(); got != "replica-0" {
		t.Errorf("Identity() = %q, want the override %q", got, "replica-0")
	}
	if got := lock.(*resourcelock.LeaseLock).Labels; got["leader"] != "true" || len(got) != 1 {
		t.Errorf("lock labels = %v, want leader=true", got)
	}
}

func TestNewResourceLockInClusterNamespace(t *testing.T) {
	file := filepath.Join(t.TempDir(), "namespace")
	if err := os.WriteFile(file, []byte("team-a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	defer leaderelection.SetInClusterNamespacePath(file)()

	opts := valid()
	opts.LeaderElectionNamespace = ""
	lock, err := leaderelection.NewResourceLock(offlineConfig, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := lock.Describe(), "team-a/my-operator"; got != want {
		t.Errorf("Describe() = %q, want %q (namespace from the in-cluster file, newline trimmed)", got, want)
	}
}

// TestLockClientTimeout checks the timeout on the lock's own client:
// max(RenewDeadline/2, 1s).
func TestLockClientTimeout(t *testing.T) {
	tests := []struct {
		renewDeadline, want time.Duration
	}{
		{10 * time.Second, 5 * time.Second}, // controller-runtime's default RenewDeadline
		{107 * time.Second, 53500 * time.Millisecond},
		{3 * time.Second, 1500 * time.Millisecond},
		{2 * time.Second, time.Second},
		{1500 * time.Millisecond, time.Second}, // half would be 750ms: the 1s floor applies
		{time.Millisecond, time.Second},
	}
	for _, tt := range tests {
		opts := valid()
		opts.RenewDeadline = tt.renewDeadline
		lock, err := leaderelection.NewResourceLock(offlineConfig, nil, opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := clientTimeout(t, lock); got != tt.want {
			t.Errorf("RenewDeadline %v: lock's client timeout = %v, want %v", tt.renewDeadline, got, tt.want)
		}
	}
}

func TestNewResourceLockLeavesConfigAlone(t *testing.T) {
	cfg := &rest.Config{Host: "https://127.0.0.1:1", UserAgent: "my-operator/v1", Timeout: 42 * time.Second, QPS: 7, Burst: 9}
	before := rest.CopyConfig(cfg)
	opts := valid()
	opts.RenewDeadline = 10 * time.Second
	if _, err := leaderelection.NewResourceLock(cfg, nil, opts); err != nil {
		t.Fatal(err)
	}
	if cfg.UserAgent != before.UserAgent || cfg.Timeout != before.Timeout || cfg.QPS != before.QPS || cfg.Burst != before.Burst || cfg.Host != before.Host {
		t.Errorf("config changed: before %+v, after %+v", before, cfg)
	}
}

type recordingProvider struct {
	recorder.Provider // only GetEventRecorderFor is called
	names             []string
	recorder          *record.FakeRecorder
}

func (p *recordingProvider) GetEventRecorderFor(name string) record.EventRecorder {
	p.names = append(p.names, name)
	return p.recorder
}

func TestNewResourceLockRecorderForIdentity(t *testing.T) {
	provider := &recordingProvider{recorder: record.NewFakeRecorder(1)}
	opts := valid()
	opts.Identity = "replica-1"
	lock, err := leaderelection.NewResourceLock(offlineConfig, provider, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(provider.names) != 1 || provider.names[0] != "replica-1" {
		t.Errorf("GetEventRecorderFor called with %v, want [replica-1]", provider.names)
	}
	if got := lock.(*resourcelock.LeaseLock).LockConfig.EventRecorder; got != provider.recorder {
		t.Errorf("lock's event recorder = %v, want the provider's", got)
	}
}

// clientTimeout digs the http.Client timeout out of a lease lock's typed client.
func clientTimeout(t *testing.T, lock resourcelock.Interface) time.Duration {
	t.Helper()
	typed, ok := lock.(*resourcelock.LeaseLock).Client.(*coordinationv1client.CoordinationV1Client)
	if !ok {
		t.Fatalf("lease client is %T", lock.(*resourcelock.LeaseLock).Client)
	}
	return typed.RESTClient().(*rest.RESTClient).Client.Timeout
}
