// Package testenv starts a real kube-apiserver and etcd for this module's tests,
// through controller-runtime's envtest, and, on request (WithControllers), a real
// kube-controller-manager beside them running only its garbage collector and
// namespace controllers.
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
	kcm    *controllerManager // nil unless WithControllers
}

// Option configures the API server Start starts.
type Option func(*options)

type options struct {
	env         *envtest.Environment
	controllers bool
}

// WithCRDPaths installs the CustomResourceDefinitions in these files and
// directories of manifests (JSON or YAML, several documents to a file) once
// the API server runs; Start returns when they are served. A path that does
// not exist makes Start fail.
func WithCRDPaths(paths ...string) Option {
	return func(o *options) {
		o.env.CRDInstallOptions.Paths = append(o.env.CRDInstallOptions.Paths, paths...)
		o.env.CRDInstallOptions.ErrorIfPathMissing = true
	}
}

// WithControllers also runs kube-controller-manager (from KUBEBUILDER_ASSETS)
// beside the API server, with only its garbage collector and namespace
// controllers: owners' deletions cascade to their dependents (background,
// foreground, orphan), and a deleted namespace is Terminating until its content
// is gone, then goes. envtest alone runs no controllers, so without this option
// dependents and deleted namespaces stay.
//
// Start returns only once both controllers have been seen working: a throwaway
// dependent ConfigMap went with its deleted owner, and then its throwaway
// namespace went once deleted. That makes Start about 5 s slower: the namespace
// controller waits a fixed 5 s (namespaceDeletionGracePeriod, not configurable)
// before it handles any deleted namespace, so a test of namespace deletion
// should allow for it too. The controllers know the resources served when
// Start returns; the garbage collector notices resources added later (a CRD
// installed by a test) only at its next discovery, up to 30 s later.
func WithControllers() Option {
	return func(o *options) { o.controllers = true }
}

// Start starts kube-apiserver and etcd and returns once the API server serves
// (and, with WithControllers, once kube-controller-manager's controllers work).
// Call Stop when done (in TestMain or a ginkgo AfterSuite).
func Start(opts ...Option) (*Env, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		return nil, errors.New("testenv: KUBEBUILDER_ASSETS is not set; run the tests with `make test`, or run `make envtest-assets` and export KUBEBUILDER_ASSETS=<the directory it prints>")
	}
	o := options{env: &envtest.Environment{BinaryAssetsDirectory: dir}}
	for _, opt := range opts {
		opt(&o)
	}
	bins := []string{"kube-apiserver", "etcd"}
	if o.controllers {
		bins = append(bins, controllerManagerBinary)
	}
	for _, bin := range bins {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return nil, fmt.Errorf("testenv: %s not found in KUBEBUILDER_ASSETS=%s; run `make envtest-assets` (it builds what is missing) and export KUBEBUILDER_ASSETS=<the directory it prints>: %w", bin, dir, err)
		}
	}
	env := o.env
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("testenv: starting kube-apiserver and etcd from %s: %w", dir, err)
	}
	e := &Env{Config: cfg, env: env}
	if o.controllers {
		e.kcm, err = startControllerManager(filepath.Join(dir, controllerManagerBinary), env.KubeConfig, cfg)
		if err != nil {
			if stopErr := env.Stop(); stopErr != nil {
				err = fmt.Errorf("%w (and stopping the API server: %v)", err, stopErr)
			}
			return nil, err
		}
	}
	return e, nil
}

// Stop stops kube-controller-manager if it runs (and reports it if it had
// exited on its own), then the API server and etcd, and removes their data.
func (e *Env) Stop() error {
	var kcmErr error
	if e.kcm != nil {
		kcmErr = e.kcm.stop()
	}
	return errors.Join(kcmErr, e.env.Stop())
}

// ControllerManagerLog returns what kube-controller-manager has written so far
// (its klog output), or "" without WithControllers. A test whose garbage
// collection or namespace row fails can log it.
func (e *Env) ControllerManagerLog() string {
	if e.kcm == nil {
		return ""
	}
	return e.kcm.output()
}

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
