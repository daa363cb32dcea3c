package lockrules_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/internal/lockrules"
)

// notSubdomain is apimachinery's explanation of a DNS-1123 subdomain, the tail
// of every "not a valid object name" error for a badly formed name.
const notSubdomain = `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`

func valid() lockrules.Options {
	return lockrules.Options{LeaderElectionID: "my-operator", LeaderElectionNamespace: "ops", Identity: "replica-0"}
}

// writeFile writes content to a fresh file and returns its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "namespace")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestResolveErrors(t *testing.T) {
	absent := filepath.Join(t.TempDir(), "absent")
	long := strings.Repeat("a", 254)
	emptyFile, badFile := writeFile(t, " \n"), writeFile(t, "Team-A\n")
	tests := []struct {
		name          string
		mutate        func(*lockrules.Options)
		namespaceFile string
		want          string
	}{
		{"removed endpoints kind", func(o *lockrules.Options) { o.LeaderElectionResourceLock = "endpoints" }, absent,
			`lock kind "endpoints" was removed from client-go; set LeaderElectionResourceLock to "leases" (controller-runtime v0.7 to v0.11 users: migrate through a release that uses "endpointsleases" first)`},
		{"removed configmaps kind", func(o *lockrules.Options) { o.LeaderElectionResourceLock = "configmaps" }, absent,
			`lock kind "configmaps" was removed from client-go; set LeaderElectionResourceLock to "leases" (controller-runtime v0.7 to v0.11 users: migrate through a release that uses "configmapsleases" first)`},
		{"removed endpointsleases multilock", func(o *lockrules.Options) { o.LeaderElectionResourceLock = "endpointsleases" }, absent,
			`lock kind "endpointsleases" was removed from client-go; set LeaderElectionResourceLock to "leases" directly: this multilock already keeps its record in a lease of the same name`},
		{"removed configmapsleases multilock", func(o *lockrules.Options) { o.LeaderElectionResourceLock = "configmapsleases" }, absent,
			`lock kind "configmapsleases" was removed from client-go; set LeaderElectionResourceLock to "leases" directly: this multilock already keeps its record in a lease of the same name`},
		{"unknown kind", func(o *lockrules.Options) { o.LeaderElectionResourceLock = "Leases" }, absent,
			`unknown lock kind "Leases"; the only supported kind is "leases"`},
		{"missing ID", func(o *lockrules.Options) { o.LeaderElectionID = "" }, absent,
			`LeaderElectionID must not be empty`},
		{"ID not a DNS subdomain", func(o *lockrules.Options) { o.LeaderElectionID = "My_Operator" }, absent,
			`LeaderElectionID "My_Operator" is not a valid object name: ` + notSubdomain},
		{"ID too long", func(o *lockrules.Options) { o.LeaderElectionID = long }, absent,
			`LeaderElectionID "` + long + `" is not a valid object name: must be no more than 253 characters`},
		{"namespace not a DNS label", func(o *lockrules.Options) { o.LeaderElectionNamespace = "kube.system" }, absent,
			`LeaderElectionNamespace "kube.system" is not a valid namespace name: must not contain dots`},
		{"no namespace outside a cluster", func(o *lockrules.Options) { o.LeaderElectionNamespace = "" }, absent,
			`unable to find leader election namespace: not running in-cluster, please specify LeaderElectionNamespace`},
		{"empty namespace file", func(o *lockrules.Options) { o.LeaderElectionNamespace = "" }, emptyFile,
			`unable to find leader election namespace: namespace file ` + emptyFile + ` is empty`},
		{"invalid namespace in the file", func(o *lockrules.Options) { o.LeaderElectionNamespace = "" }, badFile,
			`LeaderElectionNamespace "Team-A" is not a valid namespace name: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`},
		{"negative renew deadline", func(o *lockrules.Options) { o.RenewDeadline = -time.Second }, absent,
			`RenewDeadline (-1s) must not be negative`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid()
			tt.mutate(&o)
			_, err := lockrules.Resolve(o, tt.namespaceFile)
			if err == nil {
				t.Fatalf("Resolve(%+v) returned no error, want %q", o, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Resolve error\n got %q\nwant %q", err, tt.want)
			}
		})
	}
}

func TestResolveUnreadableNamespaceFile(t *testing.T) {
	dir := t.TempDir() // a directory: it exists, but reading it fails
	o := valid()
	o.LeaderElectionNamespace = ""
	_, err := lockrules.Resolve(o, dir)
	want := "unable to find leader election namespace: reading namespace file: read " + dir + ": is a directory"
	if err == nil || err.Error() != want {
		t.Fatalf("Resolve error = %v, want %q", err, want)
	}
}

func TestResolveDefaults(t *testing.T) {
	o := valid()
	o.LeaderElectionNamespace = ""
	o.Identity = ""
	got, err := lockrules.Resolve(o, writeFile(t, "team-a\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got.LeaderElectionResourceLock != "leases" {
		t.Errorf("kind = %q, want the default %q", got.LeaderElectionResourceLock, "leases")
	}
	if got.LeaderElectionNamespace != "team-a" {
		t.Errorf("namespace = %q, want %q from the file, newline trimmed", got.LeaderElectionNamespace, "team-a")
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile("^" + regexp.QuoteMeta(host) + "_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$").MatchString(got.Identity) {
		t.Errorf("identity = %q, want %s_ followed by a UUID", got.Identity, host)
	}
	again, err := lockrules.Resolve(o, writeFile(t, "team-a"))
	if err != nil {
		t.Fatal(err)
	}
	if again.Identity == got.Identity {
		t.Errorf("two resolves generated the same identity %q", got.Identity)
	}
}

func TestResolveKeepsWhatIsSet(t *testing.T) {
	o := lockrules.Options{
		LeaderElectionResourceLock: "leases", LeaderElectionNamespace: "ops", LeaderElectionID: "my-operator",
		RenewDeadline: 10 * time.Second, Identity: "replica-0",
	}
	// The namespace file must not be read when the namespace is set.
	got, err := lockrules.Resolve(o, filepath.Join(t.TempDir(), "absent"))
	if err != nil {
		t.Fatal(err)
	}
	if got != o {
		t.Errorf("Resolve(%+v) = %+v, want it unchanged", o, got)
	}
}

func TestCheckNameAndNamespaceNameTheCallersField(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"valid name", lockrules.CheckName("LeaseName", "my-lease.v1"), ""},
		{"valid namespace", lockrules.CheckNamespace("Namespace", "kube-system"), ""},
		{"empty name", lockrules.CheckName("LeaseName", ""), "LeaseName must not be empty"},
		{"bad name", lockrules.CheckName("name", "UPPER"), `name "UPPER" is not a valid object name: ` + notSubdomain},
		{"empty namespace", lockrules.CheckNamespace("Namespace", ""), "Namespace must not be empty"},
		{"namespace too long", lockrules.CheckNamespace("namespace", strings.Repeat("n", 64)),
			`namespace "` + strings.Repeat("n", 64) + `" is not a valid namespace name: must be no more than 63 characters`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if tt.err != nil {
				got = tt.err.Error()
			}
			if got != tt.want {
				t.Errorf("error\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
