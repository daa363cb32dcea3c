// The downstream suite of a controller project: its own operator, run by
// three real controller-runtime managers in the simulator, through the
// manager catalog (leader crash, handover, rolling restart, partitions, slow
// writes, overload, API server restarts). The guarded operator passes every
// spec; the unguarded one is caught writing stale data.
package operator_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/leaderlab/leaderlab/examples/operator"
	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

var suiteT *testing.T

func TestOperator(t *testing.T) {
	suiteT = t // the simulator needs the suite's *testing.T
	RegisterFailHandler(Fail)
	RunSpecs(t, "The mirror operator under leader election")
}

func controller(m operator.Mirror) scenarios.Controller {
	return scenarios.Controller{Setup: m.Setup, Change: operator.Change}
}

// Every scenario of the manager catalog, for the fixed operator.
var _ = scenarios.DescribeManagerCatalog(func() *testing.T { return suiteT }, controller(operator.Mirror{Guarded: true}), scenarios.Config{Seeds: []int64{1, 2}})

var _ = Describe("a setup that adds no reconciler", func() {
	It("fails the catalog: nothing was reconciled", func() {
		idle := scenarios.Controller{Setup: func(manager.Manager) error { return nil }, Change: operator.Change}
		crash := scenarios.ManagerCatalog(idle)[0]
		rep, p := crash.Run(suiteT, scenarios.Config{}, 1)
		Expect(rep).NotTo(crash.Expect(p))
		Expect(rep).NotTo(scenarios.HaveWrittenData())
	})
})

var _ = Describe("the unguarded operator", func() {
	It("is caught writing stale data when its leader's writes are slow", func() {
		rep, _ := scenarios.SlowDataWritesOf(controller(operator.Mirror{})).Run(suiteT, scenarios.Config{}, 1)
		Expect(rep).NotTo(scenarios.HaveNoStaleWrites())
		Expect(rep.StaleWrites).To(ContainElement(And(
			HaveField("Write.Name", operator.MirrorOf(operator.Source).Name),
			HaveField("Write.Guarded", false),
			HaveField("Cause", sim.StaleInFlight),
		)))
	})
})
