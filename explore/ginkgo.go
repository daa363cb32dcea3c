package explore

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2"
)

// DescribeSearch declares a search for a ginkgo suite: one spec that runs o
// and fails with the summary (every failure shrunk, as Go, with its replay
// command) when a check fails. suiteT returns the suite's *testing.T, which
// the simulator needs (the test that calls RunSpecs). With Shards, the
// workers run the suite with its ginkgo flags and random seed, so that its
// specs, and with them its searches, come in the same order.
func DescribeSearch(suiteT func() *testing.T, text string, o Options) bool {
	return ginkgo.Describe(text, func() {
		ginkgo.It("finds no fault schedule that fails a check", func() {
			o := o
			for _, arg := range os.Args[1:] {
				if strings.HasPrefix(arg, "-ginkgo.") || strings.HasPrefix(arg, "--ginkgo.") {
					o.workerArgs = append(o.workerArgs, arg)
				}
			}
			o.workerArgs = append(o.workerArgs, fmt.Sprintf("-ginkgo.seed=%d", ginkgo.GinkgoRandomSeed()))
			res, err := Search(suiteT(), o)
			if err != nil {
				ginkgo.Fail(err.Error())
			}
			if len(res.Failures) > 0 {
				ginkgo.Fail(res.String())
			}
		})
	})
}
