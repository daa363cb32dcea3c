package scenarios_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// suiteT is the suite's *testing.T: sim.Test needs one, and ginkgo specs are
// declared before TestScenarios runs.
var suiteT *testing.T

// T returns the suite's *testing.T, for scenarios.DescribeCatalog.
func T() *testing.T { return suiteT }

func TestScenarios(t *testing.T) {
	suiteT = t
	RegisterFailHandler(Fail)
	RunSpecs(t, "Scenarios Suite")
}
