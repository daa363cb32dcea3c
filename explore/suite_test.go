package explore_test

import (
	"testing"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/leaderlab/leaderlab/explore"
)

var suiteT *testing.T

func TestExploreSuite(t *testing.T) {
	suiteT = t
	gomega.RegisterFailHandler(ginkgo.Fail)
	ginkgo.RunSpecs(t, "explore in a ginkgo suite")
}

var _ = explore.DescribeSearch(func() *testing.T { return suiteT }, "the guarded mirror", mirrorSearch(true, 2, 20))

// A second search, in worker processes: they run the suite's specs in the
// order the parent did, so each takes over its own search.
var _ = explore.DescribeSearch(func() *testing.T { return suiteT }, "the guarded mirror in two workers", sharded(mirrorSearch(true, 3, 10)))

func sharded(o explore.Options) explore.Options {
	o.Shards = 2
	return o
}
