package apiserver_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/leaderlab/leaderlab/fake/apiserver"
	"github.com/leaderlab/leaderlab/internal/testenv"
)

// apiServer is the real kube-apiserver the conformance table runs against;
// apiServerErr says why it could not start. Tests that need it fail with that
// error; the others run regardless.
var (
	apiServer    *testenv.Env
	apiServerErr error
)

func TestMain(m *testing.M) {
	apiServer, apiServerErr = testenv.Start(testenv.WithCRDPaths(crdPath), testenv.WithControllers())
	code := m.Run()
	if apiServer != nil {
		if err := apiServer.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

// crdPath holds the CRDs of the conformance table's custom resources, which
// both of its targets serve from the start.
const crdPath = "testdata/crds"

// newServer is apiserver.New for a test: a setup error fails it at once.
func newServer(tb testing.TB, opts ...apiserver.Option) *apiserver.Server {
	tb.Helper()
	srv, err := apiserver.New(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return srv
}
