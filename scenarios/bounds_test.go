package scenarios_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

var _ = Describe("Bounds", func() {
	const ms = time.Millisecond
	// Defaults: LD 15s, RD 10s, RP 2s, legs up to 3ms (RT 6ms), client
	// timeout max(10s/2, 1s) = 5s. The numbers below are the formulas
	// worked by hand.
	defaults := scenarios.BoundsFor(sim.Options{})

	It("resolves the defaults and the client timeout", func() {
		Expect(defaults.Timing).To(Equal(timing(15*time.Second, 10*time.Second, 2*time.Second)))
		Expect(defaults.ClientTimeout).To(Equal(5 * time.Second))
		Expect(defaults.RoundTrip()).To(Equal(6 * ms))
		Expect(defaults.MaxPoll()).To(Equal(4400 * ms))
		Expect(defaults.Margin()).To(Equal(3 * time.Second))
		Expect(scenarios.BoundsFor(sim.Options{NoClientTimeout: true}).ReleaseWait()).To(Equal(10 * time.Second))
		// The latest answer a renew accepts: the client timeout, or without
		// one the renew's context, RD.
		Expect(defaults.LatestAnswer()).To(Equal(5 * time.Second))
		Expect(scenarios.BoundsFor(sim.Options{NoClientTimeout: true}).LatestAnswer()).To(Equal(10 * time.Second))
		Expect(scenarios.BoundsFor(sim.Options{Timing: timing(5*time.Second, 1500*ms, time.Second)}).ClientTimeout).To(Equal(time.Second))
	})

	DescribeTable("derives each window from the timing",
		func(w scenarios.Window, lo, hi time.Duration) {
			Expect(w).To(Equal(scenarios.Window{Lo: lo, Hi: hi}))
		},
		Entry("crash: LD - RP - 2 RT .. LD + 4.4 RP + 7 RT", defaults.Crash(), 12988*ms, 23842*ms),
		Entry("handover: 0 .. 2.2 RP + 7 RT", defaults.Handover(), time.Duration(0), 4442*ms),
		Entry("partition failover: margin - L .. margin + 4.4 RP + 5 RT", defaults.PartitionFailover(3*ms), 2997*ms, 11830*ms),
		Entry("partition overlap: L - margin, never certain", defaults.PartitionOverlap(sim.DefaultLatency, false), -11829*ms, -2997*ms),
		Entry("pending release: L + client timeout - margin = 2.003s", defaults.PartitionOverlap(sim.DefaultLatency, true), -6829*ms, 2003*ms),
		Entry("late answers of 4.5s: 4.5s - margin = 1.5s", defaults.PartitionOverlap(sim.Fixed(4500*ms), false), -7330*ms, 1500*ms),
		Entry("overwrite: LD - RD - RP - 2 RT .. LD - RD + 4.4 RP + 7 RT", defaults.Overwrite(), 2988*ms, 13842*ms),
		Entry("delete: up to RP + RD + 2 RT", defaults.DeleteOverlap(), time.Duration(0), 12012*ms),
	)

	It("finds the shortest whole-second lease that covers a pending release", func() {
		// RD + RP + client timeout + L = 17.003s: 18s.
		Expect(defaults.SafeLeaseDuration()).To(Equal(18 * time.Second))
		safe := scenarios.BoundsFor(sim.Options{Timing: timing(18*time.Second, 10*time.Second, 2*time.Second)})
		Expect(safe.PartitionOverlap(sim.DefaultLatency, true).Hi).To(BeNumerically("<", 0))
		Expect(safe.PartitionOverlap(sim.Fixed(safe.ClientTimeout), false).Hi).To(BeNumerically("<", 0))
	})

	It("lengthens the safe lease by the clock drift the candidates may have", func() {
		// RD + RP + client timeout + L + drift = 17.003s + 1.5s = 18.503s: 19s.
		Expect(defaults.SafeLeaseDurationWithDrift(1500 * ms)).To(Equal(19 * time.Second))
		Expect(defaults.SafeLeaseDurationWithDrift(0)).To(Equal(defaults.SafeLeaseDuration()))
		// 17.003s + 997ms = 18s exactly: the margin must exceed it, so 19s.
		Expect(defaults.SafeLeaseDurationWithDrift(997 * ms)).To(Equal(19 * time.Second))
	})

	It("finds the longest API outage a leader keeps its lease through", func() {
		// RD - RP - 2 RT = 10s - 2s - 12ms.
		Expect(defaults.OutageKept()).To(Equal(7988 * ms))
	})

	It("allows for whole-second renew times when RetryPeriod is under a second", func() {
		// 3s/2s/500ms, legs up to 3ms: renews 500ms apart can look alike to a
		// follower, which may then count LD from a renew up to 1s older.
		fast := scenarios.BoundsFor(sim.Options{Timing: timing(3*time.Second, 2*time.Second, 500*ms)})
		Expect(defaults.Grain()).To(BeZero())
		Expect(fast.Grain()).To(Equal(time.Second))
		// crash: LD - RP - 2 RT - Grain = 3s - 500ms - 12ms - 1s.
		Expect(fast.Crash().Lo).To(Equal(1488 * ms))
		// pending release: L + client timeout (1s) - margin (500ms) + Grain.
		Expect(fast.PartitionOverlap(sim.DefaultLatency, true).Hi).To(Equal(1503 * ms))
		// safe lease: RD + RP + client timeout + L + Grain = 4.503s: 5s.
		Expect(fast.SafeLeaseDuration()).To(Equal(5 * time.Second))
	})

	It("says when a window holds a duration", func() {
		w := scenarios.Window{Lo: time.Second, Hi: 2 * time.Second}
		Expect(w.Contains(time.Second)).To(BeTrue())
		Expect(w.Contains(2 * time.Second)).To(BeTrue())
		Expect(w.Contains(999 * ms)).To(BeFalse())
		Expect(w.Contains(2001 * ms)).To(BeFalse())
		Expect(w.String()).To(Equal("[1s, 2s]"))
	})
})
