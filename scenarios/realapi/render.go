package realapi

import (
	"github.com/leaderlab/leaderlab/internal/svgdoc"

	"fmt"
	"html"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/leaderlab/leaderlab/internal/stats"
)

// Criterion is the agreement criterion in words, as the table states it.
func (c *Comparison) Criterion() string {
	return fmt.Sprintf("A plan agrees when (1) every real trial's outcome (how the leader's term ended, takeover or not, overlap or not) "+
		"occurs in at least one simulated seed, and (2) every real takeover, step-down and overlap length lies in the simulator's envelope "+
		"[sim min - %v, sim max + %v] over %d seeds (%d real trials). %v %s. "+
		"The Mann-Whitney p-value is a diagnostic: below %v it flags a shift, listed under differences with the difference of the medians.",
		c.Tolerance, c.Tolerance, c.SimSeeds, c.Trials, c.Tolerance, toleranceWhy(c.Tolerance), ShiftSignificance)
}

// toleranceWhy says where a tolerance comes from, for the criterion's text.
func toleranceWhy(tol time.Duration) string {
	switch tol {
	case DefaultTolerance:
		return "is one round-trip allowance, for real-world jitter"
	case CITolerance:
		return "is three round-trip allowances, for real trials under the race detector on a loaded CI machine (CITolerance)"
	}
	return "is the caller's allowance for real-world jitter"
}

func msText(d time.Duration) string {
	return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond))
}

func triple(s stats.Summary) string {
	if s.N == 0 {
		return "-"
	}
	return msText(s.Median) + " / " + msText(s.P90) + " / " + msText(s.Max)
}

func pText(p float64) string {
	if p < 0 || math.IsNaN(p) {
		return "-"
	}
	return fmt.Sprintf("%.2g", p)
}

func outcomesText(counts map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(mapKeys(counts)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, counts[k]))
	}
	return strings.Join(parts, "; ")
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// Speedup is how many times faster the simulator runs one trial than the
// real server does: the mean wall time of a real trial over the mean wall time
// of a simulated one, over all plans. (The two sides run different numbers of
// trials, so their summed wall times are not the same work.)
func (c *Comparison) Speedup() float64 {
	var realN, simN int
	for _, p := range c.Plans {
		realN += len(p.Real)
		simN += len(p.Sim)
	}
	return speedup(c.RealWall(), realN, c.SimWall(), simN)
}

// speedup is the mean wall time of a real trial over that of a simulated one.
func speedup(realWall time.Duration, realN int, simWall time.Duration, simN int) float64 {
	if realN == 0 || simN == 0 || simWall <= 0 {
		return math.NaN()
	}
	return (float64(realWall) / float64(realN)) / (float64(simWall) / float64(simN))
}

// Markdown renders the comparison: criterion, failover times side by side
// (milliseconds, median / p90 / max), outcomes, latency model and wall times.
func (c *Comparison) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# sim against a real kube-apiserver\n\n")
	fmt.Fprintf(&b, "Run %s on %s; %d real trials and %d simulated seeds per plan.\n\n", c.Date.Format("2006-01-02"), c.Machine, c.Trials, c.SimSeeds)
	fmt.Fprintf(&b, "Criterion: %s\n\n", c.Criterion())
	fmt.Fprintf(&b, "## Failover times (ms after the fault: median / p90 / max)\n\n")
	writeMetrics(&b, c.Plans)
	fmt.Fprintf(&b, "\n## Outcomes (how the leader's term ended, takeover, overlap)\n\n")
	fmt.Fprintf(&b, "| plan | timing | real | sim | agrees |\n|---|---|---|---|---|\n")
	for _, p := range c.Plans {
		t := p.Timing
		fmt.Fprintf(&b, "| %s | %v/%v/%v | %s | %s | %s |\n", p.Plan.Name, t.LeaseDuration, t.RenewDeadline, t.RetryPeriod,
			outcomesText(p.RealOutcomes), outcomesText(p.SimOutcomes), yesNo(p.OutcomeAgrees))
	}
	fmt.Fprintf(&b, "\n## Latency model and wall time\n\n")
	fmt.Fprintf(&b, "Measured real round trips (ms, median / p90 / max, all verbs) and the sim leg they give "+
		"(uniform between half the 5th and half the 95th percentile). Wall: summed wall time of the trials on each side; "+
		"speed-up: the mean wall time of one real trial over that of one simulated trial.\n\n")
	fmt.Fprintf(&b, "| plan | real round trip | sim leg | real wall (trials) | sim wall (seeds) | speed-up per trial |\n|---|---|---|---:|---:|---:|\n")
	for _, p := range c.Plans {
		fmt.Fprintf(&b, "| %s | %s | %v | %.1fs (%d) | %.2fs (%d) | %.0f x |\n", p.Plan.Name, triple(p.Latency.RoundTrips),
			p.Latency.Leg, p.RealWall.Seconds(), len(p.Real), p.SimWall.Seconds(), len(p.Sim),
			speedup(p.RealWall, len(p.Real), p.SimWall, len(p.Sim)))
	}
	fmt.Fprintf(&b, "| **all** | | | %.1fs | %.2fs | %.0f x |\n", c.RealWall().Seconds(), c.SimWall().Seconds(), c.Speedup())
	fmt.Fprintf(&b, "\n## Differences\n\n")
	listed := false
	for _, p := range c.Plans {
		for _, d := range p.Differences {
			fmt.Fprintf(&b, "- %s: %s\n", p.Plan.Name, d)
			listed = true
		}
	}
	if !listed {
		fmt.Fprintf(&b, "None.\n")
	}
	verdict := "every plan agrees"
	if !c.Agrees() {
		verdict = "**some plans disagree**"
	}
	fmt.Fprintf(&b, "\nVerdict: %s.\n", verdict)
	return b.String()
}

// SVG renders one strip per plan and metric: the simulated seeds as grey
// ticks, the real trials as dots (red when outside the envelope), the
// envelope as a band, on a common axis per plan.
func (c *Comparison) SVG() []byte {
	const (
		width, left, right = 1000, 370, 20
		rowH, headH        = 22, 24
	)
	rows := 0
	for _, p := range c.Plans {
		rows += max(len(p.Metrics), 1)
	}
	height := 60 + len(c.Plans)*headH + rows*rowH + 40
	b := svgdoc.New(width, height, fmt.Sprintf("sim (grey ticks, %d seeds) against a real kube-apiserver (dots, %d trials): ms after the fault", c.SimSeeds, c.Trials))
	b.Printf(`<text x="10" y="38" fill="#555">%s, %s. Band: sim envelope +/- %v; red dot: a real value outside it.</text>`+"\n", c.Date.Format("2006-01-02"), html.EscapeString(c.Machine), c.Tolerance)
	y := 60
	for _, p := range c.Plans {
		var hi time.Duration
		for _, m := range p.Metrics {
			hi = max(hi, m.Envelope.Hi, m.Real.Max, m.Sim.Max)
		}
		hi = max(hi, 100*time.Millisecond)
		scale := func(d time.Duration) float64 {
			return left + float64(width-left-right)*float64(max(d, 0))/float64(hi)
		}
		mark := "agrees"
		color := "#2a7"
		if !p.Agrees {
			mark, color = "differs", "#c22"
		}
		b.Printf(`<text x="10" y="%d"><tspan font-weight="bold">%s</tspan> <tspan fill="%s">%s</tspan></text><text x="%d" y="%d" text-anchor="end" fill="#555">0 .. %s ms</text>`+"\n",
			y+15, html.EscapeString(p.Plan.Name), color, mark, width-right, y+15, msText(hi))
		y += headH
		for _, m := range p.Metrics {
			mid := y + rowH/2
			b.Printf(`<text x="24" y="%d">%s</text>`+"\n", mid+4, m.Name)
			b.Printf(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#ddd"/>`+"\n", left, mid, width-right, mid)
			if m.Sim.N > 0 {
				x0, x1 := scale(m.Envelope.Lo), scale(m.Envelope.Hi)
				b.Printf(`<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#cde" opacity="0.6"/>`+"\n", x0, mid-8, max(x1-x0, 1), 16)
			}
			ticks(b, m.SimValues, scale, mid-8, mid+8, "#666")
			for _, v := range m.RealValues {
				fill := "#e80"
				if slices.Contains(m.Outside, v) {
					fill = "#d00"
				}
				b.Printf(`<circle cx="%.1f" cy="%d" r="3.5" fill="%s" stroke="black" stroke-width="0.5"/>`+"\n", scale(v), mid, fill)
			}
			b.Printf(`<text x="%d" y="%d" text-anchor="end" fill="#555" font-size="10">real %s | sim %s</text>`+"\n", left-8, mid+4, triple(m.Real), triple(m.Sim))
			y += rowH
		}
		if len(p.Metrics) == 0 {
			b.Printf(`<text x="30" y="%d" fill="#555">no takeover and no step-down on either side: outcomes only (%s)</text>`+"\n", y+rowH/2+4, html.EscapeString(outcomesText(p.RealOutcomes)))
			y += rowH
		}
	}
	b.Printf(`<text x="10" y="%d" fill="#555">Real wall %.1fs, sim wall %.2fs; one trial runs %.0f x faster in sim.</text>`+"\n", y+20, c.RealWall().Seconds(), c.SimWall().Seconds(), c.Speedup())
	return b.Bytes()
}

// writeMetrics writes the failover-time table.
func writeMetrics(b *strings.Builder, plans []*PlanComparison) {
	fmt.Fprintf(b, "| plan | metric | real n | real | sim n | sim | envelope | outside | Mann-Whitney p | agrees |\n")
	fmt.Fprintf(b, "|---|---|---:|---|---:|---|---|---|---:|---|\n")
	for _, p := range plans {
		for _, m := range p.Metrics {
			env := "-"
			if m.Sim.N > 0 {
				env = "[" + msText(m.Envelope.Lo) + ", " + msText(m.Envelope.Hi) + "]"
			}
			outside := "-"
			if len(m.Outside) > 0 {
				outside = durList(m.Outside)
			}
			fmt.Fprintf(b, "| %s | %s | %d | %s | %d | %s | %s | %s | %s | %s |\n",
				p.Plan.Name, m.Name, m.Real.N, triple(m.Real), m.Sim.N, triple(m.Sim), env, outside, pText(m.MannWhitneyP), yesNo(m.Agrees()))
		}
	}
}

// ticks draws values as vertical ticks between y0 and y1, one per pixel
// column: darker where more seeds fall, so that hundreds of seeds stay a
// small picture.
func ticks(b *svgdoc.Doc, values []time.Duration, scale func(time.Duration) float64, y0, y1 int, color string) {
	counts := map[int]int{}
	for _, v := range values {
		counts[int(math.Round(scale(v)))]++
	}
	xs := make([]int, 0, len(counts))
	for x := range counts {
		xs = append(xs, x)
	}
	slices.Sort(xs)
	for _, x := range xs {
		opacity := min(1, 0.25+0.15*float64(counts[x]-1))
		b.Printf(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-opacity="%.2f"/>`+"\n", x, y0, x, y1, color, opacity)
	}
}
