package sim_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	k8smetrics "k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"

	"github.com/leaderlab/leaderlab/sim"
)

// Lines logged through klog's global logger, or handed to
// utilruntime.HandleError without a context, by a goroutine of the run that
// belongs to no candidate (here the body's) go to the trace under "sim", not
// to standard error.
func TestGlobalLogLinesOfTheRunAreTracedUnderSim(t *testing.T) {
	rep := sim.Test(t, sim.Options{Seed: 1, Candidates: 1}, func(c *sim.Cluster) {
		c.AwaitLeader(ld)
		klog.Infof("the body logs %d line", 1)
		klog.Background().WithName("body").Info("and another", "k", "v")
		utilruntime.HandleError(errors.New("the body's error"))
	})
	var got []string
	for _, e := range rep.Trace {
		if e.Who == "sim" && strings.HasPrefix(e.What, "log: ") {
			got = append(got, e.What)
		}
	}
	want := []string{ // one instant: in the trace's canonical order
		`log: Unhandled Error err="the body's error"`,
		"log: body: and another k=v",
		"log: the body logs 1 line",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("log lines under sim:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// leakyCollector is a component-base StableCollector, the kind
// legacyregistry.CustomRegister takes.
type leakyCollector struct{ k8smetrics.BaseStableCollector }

var leakyDesc = k8smetrics.NewDesc("leaderlab_leaky", "a collector registered on legacyregistry's own registry", nil, nil, k8smetrics.ALPHA, "")

func (leakyCollector) DescribeWithStability(ch chan<- *k8smetrics.Desc) { ch <- leakyDesc }
func (leakyCollector) CollectWithStability(ch chan<- k8smetrics.Metric) {
	ch <- k8smetrics.NewLazyConstMetric(leakyDesc, k8smetrics.GaugeValue, 1)
}

// legacyregistry.CustomRegister registers on component-base's unexported
// registry, which the simulator cannot put aside for the run: the collector
// stays registered for every later run in the process, so the report does
// not claim exact replay, and says why.
func TestUnisolatedRegistrationMakesReplayInexact(t *testing.T) {
	rep := sim.Test(t, sim.Options{Seed: 1, Candidates: 1}, func(c *sim.Cluster) {
		c.AwaitLeader(ld)
		_ = legacyregistry.CustomRegister(&leakyCollector{})
		c.Advance(time.Second)
	})
	const want = "a collector (*sim_test.leakyCollector) was registered with component-base's legacyregistry.CustomRegister, whose registry the simulator cannot swap: it stays registered in this process, and a later run's registration of it fails"
	if rep.ReplayExact || rep.ReplayNote != want {
		t.Errorf("ReplayExact %v, ReplayNote %q; want false, %q", rep.ReplayExact, rep.ReplayNote, want)
	}
	if line := "replay: NOT exact: " + want + "\n"; !strings.Contains(rep.Text(), line) {
		t.Errorf("the text report lacks the line %q", line)
	}
}
