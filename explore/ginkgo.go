package explore

import (
	"testing"

	"github.com/onsi/ginkgo/v2"
)

// DescribeSearch declares a search for a ginkgo suite: one spec that runs o
// and fails with the summary (every failure shrunk, as Go, with its replay
// command) when a check fails. suiteT returns the suite's *testing.T, which
// the simulator needs (the test that calls RunSpecs).
func DescribeSearch(suiteT func() *testing.T, text string, o Options) bool {
	return ginkgo.Describe(text, func() {
		ginkgo.It("finds no fault schedule that fails a check", func() {
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
