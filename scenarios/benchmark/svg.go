package benchmark

import (
	"github.com/leaderlab/leaderlab/internal/svgdoc"
	"github.com/leaderlab/leaderlab/scenarios"

	"fmt"
	"html"
	"time"

	"github.com/leaderlab/leaderlab/internal/stats"
)

// Histogram layout, in pixels.
const (
	histWidth = 820
	histRowH  = 120
	histLeft  = 190
	histRight = 30
	histBins  = 40
)

// HistogramSVG draws one histogram row per result (one scenario at several
// timings), each on its own scale from zero to past the arithmetic's upper
// bound: the window is shaded green, the median and p99 are marked, and the
// bars show how the failovers fell.
func HistogramSVG(results []Result) []byte {
	height := 40 + len(results)*histRowH
	title := ""
	if len(results) > 0 {
		title = fmt.Sprintf("%s: virtual failover time, %d candidates (green: the arithmetic's window; dashed: median, red: p99)", results[0].Scenario.ID, results[0].Candidates)
	}
	b := svgdoc.New(histWidth, height, title)
	plotW := float64(histWidth - histLeft - histRight)
	for i, r := range results {
		top := 40 + i*histRowH
		base := float64(top + histRowH - 30)
		s := stats.Summarize(r.Failovers)
		span := max(r.Window.Hi, s.Max) * 21 / 20
		if span <= 0 {
			span = time.Second
		}
		x := func(d time.Duration) float64 { return float64(histLeft) + plotW*float64(d)/float64(span) }
		counts := make([]int, histBins)
		for _, d := range r.Failovers {
			counts[min(histBins-1, int(float64(d)/float64(span)*histBins))]++
		}
		most := 1
		for _, c := range counts {
			most = max(most, c)
		}
		b.Printf(`<text x="10" y="%d" font-size="12">%s</text>`+"\n", top+20, scenarios.TimingLabel(r.Timing))
		for k, line := range []string{fmt.Sprintf("n=%d", s.N), "median " + ms(s.Median), "p99    " + ms(s.P99), "max    " + ms(s.Max)} {
			b.Printf(`<text x="10" y="%d">%s</text>`+"\n", top+36+14*k, line)
		}
		b.Printf(`<rect x="%.1f" y="%d" width="%.1f" height="%.1f" fill="#d8f0d8"/>`+"\n", x(r.Window.Lo), top+8, x(r.Window.Hi)-x(r.Window.Lo), base-float64(top+8))
		barW := plotW / histBins
		for j, c := range counts {
			if c == 0 {
				continue
			}
			h := (base - float64(top+12)) * float64(c) / float64(most)
			b.Printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#1f77b4"><title>%d</title></rect>`+"\n", float64(histLeft)+float64(j)*barW+1, base-h, barW-2, h, c)
		}
		for _, m := range []struct {
			at    time.Duration
			color string
		}{{s.Median, "#333"}, {s.P99, "#d62728"}} {
			b.Printf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="3,2"/>`+"\n", x(m.at), top+8, x(m.at), base, m.color)
		}
		b.Printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#333"/>`+"\n", histLeft, base, histWidth-histRight, base)
		for k := 0; k <= 4; k++ {
			d := span * time.Duration(k) / 4
			b.Printf(`<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x(d), base+14, html.EscapeString(d.Round(10*time.Millisecond).String()))
		}
	}
	return b.Bytes()
}
