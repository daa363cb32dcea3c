package sim

import (
	"github.com/leaderlab/leaderlab/internal/svgdoc"

	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
	"time"
)

// SVG layout, in pixels.
const (
	svgWidth   = 1100
	svgLabelW  = 110
	svgRight   = 20
	svgTop     = 50
	svgLaneH   = 22
	svgLaneGap = 6
)

var svgPalette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79"}

// SVG renders the run as a timeline a person can read at a glance: one lane
// for API-wide faults, one for the stored lease holder, one per candidate
// with its acting-leader terms (solid), partitions (hatched grey), crashes (x),
// stops (|) and data writes (ticks where applied; a stale write is a red
// diamond with a line back to its sending); overlaps are red bands across all
// lanes, leaderless time is shaded on the lease lane.
func (r *Report) SVG() []byte {
	cands := r.candidates()
	lanes := 2 + len(cands)
	height := svgTop + lanes*(svgLaneH+svgLaneGap) + 40
	total := r.Duration
	if total <= 0 {
		total = time.Second
	}
	plotW := float64(svgWidth - svgLabelW - svgRight)
	x := func(d time.Duration) float64 {
		return float64(svgLabelW) + plotW*float64(d)/float64(total)
	}
	w := func(a, b time.Duration) float64 { return math.Max(x(b)-x(a), 1) }
	laneY := func(i int) int { return svgTop + i*(svgLaneH+svgLaneGap) }
	color := func(identity string) string {
		for i, c := range cands {
			if c == identity || strings.HasPrefix(identity, c+"-") {
				return svgPalette[i%len(svgPalette)]
			}
		}
		return "#d62728"
	}

	b := svgdoc.New(svgWidth, height, fmt.Sprintf("%s, seed %d, %d candidates, LD %v RD %v RP %v, %v", r.Backend, r.Seed, r.Options.Candidates,
		r.Options.Timing.LeaseDuration, r.Options.Timing.RenewDeadline, r.Options.Timing.RetryPeriod, r.Duration.Round(time.Millisecond)))
	b.WriteString(`<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#eee"/><line x1="0" y1="0" x2="0" y2="6" stroke="#999" stroke-width="2"/></pattern></defs>` + "\n")
	summary := fmt.Sprintf("terms %d, failovers %d, overlaps %d, leaderless %v, requests %d (conflicts %d, timeouts %d)",
		len(r.Terms), len(r.Failovers), len(r.Overlaps), r.Leaderless.Round(time.Millisecond), r.Requests.Total, r.Requests.Conflicts, r.Requests.Timeouts)
	if n := r.dataWrites(); n > 0 {
		summary += fmt.Sprintf(", data writes %d (stale %d, harmful %d, lost updates %d)", n, len(r.StaleWrites), r.harmful(), len(r.LostUpdates))
	}
	b.Printf(`<text x="10" y="34">%s</text>`+"\n", html.EscapeString(summary))

	// Lane labels and backgrounds.
	labels := append([]string{"API faults", "lease holder"}, cands...)
	for i, l := range labels {
		y := laneY(i)
		b.Printf(`<text x="8" y="%d">%s</text>`, y+15, html.EscapeString(l))
		b.Printf(`<rect x="%d" y="%d" width="%.1f" height="%d" fill="#f7f7f7"/>`+"\n", svgLabelW, y, plotW, svgLaneH)
	}
	// Time axis.
	step := niceStep(total)
	axisY := laneY(lanes) + 4
	for t := time.Duration(0); t <= total; t += step {
		b.Printf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`, x(t), svgTop-4, x(t), axisY)
		b.Printf(`<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(t), axisY+14, shortDuration(t))
	}
	// Faults: API-wide ones in lane 0, candidate ones in the candidate's lane.
	for _, f := range r.Faults {
		if f.Candidate == "" {
			fill := map[FaultKind]string{FaultOutage: "#d62728", FaultBlackHole: "#111", FaultErrors: "#ff9896", FaultLatency: "#ffbb78"}[f.Kind]
			if fill == "" {
				fill = "#aaa"
			}
			b.Printf(`<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`+"\n", x(f.Start), laneY(0)+3, w(f.Start, f.End), svgLaneH-6, fill, html.EscapeString(string(f.Kind)+" "+f.Detail))
			continue
		}
		lane := indexOf(cands, f.Candidate) + 2
		y := laneY(lane)
		switch f.Kind {
		case FaultPartition:
			b.Printf(`<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="url(#hatch)"><title>partition</title></rect>`+"\n", x(f.Start), y, w(f.Start, f.End), svgLaneH)
		case FaultCrash:
			b.Printf(`<text x="%.1f" y="%d" text-anchor="middle" font-size="16" fill="#d62728">&#215;<title>crash</title></text>`+"\n", x(f.Start), y+16)
		case FaultStop:
			b.Printf(`<rect x="%.1f" y="%d" width="2" height="%d" fill="#333"><title>stop</title></rect>`+"\n", x(f.Start)-1, y, svgLaneH)
		case FaultStart:
			b.Printf(`<text x="%.1f" y="%d" font-size="12" fill="#333">&#9654;<title>start</title></text>`+"\n", x(f.Start), y+15)
		default:
			b.Printf(`<rect x="%.1f" y="%d" width="%.1f" height="4" fill="#ff9896"><title>%s</title></rect>`+"\n", x(f.Start), y+svgLaneH-4, w(f.Start, f.End), html.EscapeString(string(f.Kind)+" "+f.Detail))
		}
	}
	// Lease holder.
	for _, h := range r.Holders {
		if h.Holder == "" {
			continue
		}
		b.Printf(`<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" opacity="0.45"><title>%s</title></rect>`, x(h.Start), laneY(1)+3, w(h.Start, h.End), svgLaneH-6, color(h.Holder), html.EscapeString(h.Holder))
		if w(h.Start, h.End) > float64(7*len(h.Holder)+6) {
			b.Printf(`<text x="%.1f" y="%d">%s</text>`, x(h.Start)+3, laneY(1)+15, html.EscapeString(h.Holder))
		}
		b.WriteString("\n")
	}
	// Leaderless time after the first leader, on the lease lane.
	for _, f := range r.Failovers {
		b.Printf(`<rect x="%.1f" y="%d" width="%.1f" height="3" fill="#d62728"><title>no acting leader for %v (%s)</title></rect>`+"\n", x(f.Start), laneY(1)+svgLaneH-3, w(f.Start, f.End), f.Duration, html.EscapeString(f.Cause))
	}
	// Terms.
	for _, t := range r.Terms {
		y := laneY(indexOf(cands, t.Candidate) + 2)
		b.Printf(`<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s leads %s..%s (%s)</title></rect>`+"\n",
			x(t.Start), y+4, w(t.Start, t.End), svgLaneH-8, color(t.Identity), html.EscapeString(t.Identity), shortDuration(t.Start), shortDuration(t.End), t.EndCause)
	}
	// Data writes: a tick on the writer's lane where the server applied it;
	// a stale one is a diamond there (red when harmful, orange when not),
	// with a line back to its sending; a lost update is a purple square.
	stale := make(map[Write]StaleWrite, len(r.StaleWrites))
	for _, s := range r.StaleWrites {
		stale[s.Write] = s
	}
	lost := make(map[Write]LostUpdate, len(r.LostUpdates))
	for _, l := range r.LostUpdates {
		lost[l.Write] = l
	}
	for _, wr := range r.Writes {
		if wr.Kind != WriteData || wr.Candidate == Outside {
			continue
		}
		y, at := laneY(indexOf(cands, wr.Candidate)+2), max(wr.Applied, wr.Sent)
		if l, ok := lost[wr]; ok {
			b.Printf(`<rect x="%.1f" y="%d" width="9" height="9" fill="#9467bd" stroke="white"><title>lost update: %s</title></rect>`+"\n", x(at)-4.5, y+svgLaneH/2-5, html.EscapeString(l.String()))
			continue
		}
		s, ok := stale[wr]
		if !ok {
			b.Printf(`<rect x="%.1f" y="%d" width="2" height="5" fill="#222"><title>%s</title></rect>`+"\n", x(at)-1, y, html.EscapeString(wr.String()))
			continue
		}
		fill, what := "#ff7f0e", "stale, harmless"
		if s.Harmful {
			fill, what = "#d62728", "stale, harmful"
		}
		b.Printf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="2"/>`, x(wr.Sent), y+svgLaneH/2, x(at), y+svgLaneH/2, fill)
		b.Printf(`<path d="M%.1f %d l5 5 l-5 5 l-5 -5 z" fill="%s" stroke="white"><title>%s: %s</title></path>`+"\n", x(at), y+svgLaneH/2-5, fill, what, html.EscapeString(s.String()))
	}
	// Overlaps: red bands over every lane.
	for _, o := range r.Overlaps {
		b.Printf(`<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#d62728" opacity="0.35"><title>%s</title></rect>`+"\n",
			x(o.Start), svgTop-4, math.Max(w(o.Start, o.End), 2), laneY(lanes)-svgTop+4, html.EscapeString(fmt.Sprintf("%s and %s both acting for %v: %s", o.Old, o.New, o.Duration, o.Cause)))
	}
	return b.Bytes()
}

// candidates are the candidate names, in order.
func (r *Report) candidates() []string {
	names := make([]string, r.Options.Candidates)
	for i := range names {
		names[i] = CandidateName(i)
	}
	return names
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return 0
}

// niceStep picks an axis step of 1, 2 or 5 x 10^k seconds giving 5-12 ticks.
func niceStep(total time.Duration) time.Duration {
	for _, base := range []time.Duration{time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, time.Second, 10 * time.Second, 100 * time.Second, 1000 * time.Second, 10000 * time.Second} {
		for _, m := range []time.Duration{1, 2, 5} {
			if total/(base*m) <= 12 {
				return base * m
			}
		}
	}
	return total
}

func shortDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.Round(time.Millisecond).String()
}
