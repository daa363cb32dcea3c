// Package testenv starts a real kube-apiserver and etcd for this module's tests,
// through controller-runtime's envtest.
//
// The binaries come from KUBEBUILDER_ASSETS, which the Makefile sets to the
// directory that `make envtest-assets` fills (hack/envtest-assets.sh). A test that
// cannot find them fails with a message that says so; it never skips.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Env is a running API server.
type Env struct {
	// Config reaches the API server as an administrator. Copy it before changing it.
	Config *rest.Config
	env    *envtest.Environment
}

// Option configures the API server Start starts.
type Option func(*envtest.Environment)

// WithCRDPaths installs the CustomResourceDefinitions in these files and
// directories of manifests (JSON or YAML, several documents to a file) once
// the API server runs; Start returns when they are served. A path that does
// not exist makes Start fail.
func WithCRDPaths(paths ...string) Option {
	return func(env *envtest.Environment) {
		env.CRDInstallOptions.Paths = append(env.CRDInstallOptions.Paths, paths...)
		env.CRDInstallOptions.ErrorIfPathMissing = true
	}
}

// Start starts kube-apiserver and etcd and returns once the API server serves.
// Call Stop when done (in TestMain or a ginkgo AfterSuite).
func Start(opts ...Option) (*Env, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		return nil, errors.New("testenv: KUBEBUILDER_ASSETS is not set; run the tests with `make test`, or run `make envtest-assets` and export KUBEBUILDER_ASSETS=<the directory it prints>")
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return nil, fmt.Errorf("testenv: %s not found in KUBEBUILDER_ASSETS=%s; run `make envtest-assets`: %w", bin, dir, err)
		}
	}
	env := &envtest.Environment{BinaryAssetsDirectory: dir}
	for _, opt := range opts {
		opt(env)
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("testenv: starting kube-apiserver and etcd from %s: %w", dir, err)
	}
	return &Env{Config: cfg, env: env}, nil
}

// Stop stops the API server and etcd and removes their data.
func (e *Env) Stop() error { return e.env.Stop() }

// Main is a package's TestMain for tests that share one API server: it starts
// the server, hands it to use, runs the tests, stops the server and exits with
// the tests' code. If the server cannot start, it prints why and exits 1.
func Main(m *testing.M, use func(*Env)) {
	env, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	use(env)
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}
