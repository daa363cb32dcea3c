package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/leaderlab/leaderlab/scenarios/benchmark"
	"github.com/leaderlab/leaderlab/sim"
)

// Files of a bench's output folder besides those of benchmark.WriteReport.
const (
	tableJSON = "failover-table.json"
	tableMD   = "failover-table.md"
	indexHTML = "index.html"
)

// report prints the table of results on stdout (Markdown, or JSON with
// asJSON) and writes the folder out: benchmark.WriteReport's table,
// histograms and timelines, the table as JSON and index.html. Nothing in
// them depends on where or how fast the runs ran, so the outputs of the same
// bench are byte-identical however it was sharded.
func report(results []benchmark.Result, s spec, out string, asJSON bool, stdout, stderr io.Writer) int {
	js, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "leaderlab: %v\n", err)
		return exitFailed
	}
	js = append(js, '\n')
	var md bytes.Buffer
	_ = benchmark.WriteTable(&md, results)
	if asJSON {
		_, err = stdout.Write(js)
	} else {
		_, err = stdout.Write(md.Bytes())
	}
	if err == nil {
		err = benchmark.WriteReport(out, results)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(out, tableJSON), js, 0o644)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(out, indexHTML), indexPage(results, s, md.String()), 0o644)
	}
	if err != nil {
		fmt.Fprintf(stderr, "leaderlab: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stderr, "report: %s\n", filepath.Join(out, indexHTML))
	return exitOK
}

// indexPage is index.html: the table, then per scenario its histogram and
// the timeline of its representative run, each with a sentence on how to
// read it. It names only files that WriteReport and report write, by the
// names they use.
func indexPage(results []benchmark.Result, s spec, table string) []byte {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>leaderlab bench</title>
<style>
body { font-family: sans-serif; margin: 2em; max-width: 1200px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
th:nth-child(-n+2), td:nth-child(-n+2), td:nth-child(9), th:nth-child(9) { text-align: left; }
p.how { color: #444; max-width: 70em; }
img { border: 1px solid #ddd; max-width: 100%; }
code { background: #f4f4f4; padding: 1px 3px; }
</style></head><body>
<h1>leaderlab bench</h1>
`)
	fmt.Fprintf(&b, "<p>%d candidates, latency %s per leg, seeds 1..%d, virtual time. Made by <code>%s</code>.</p>\n",
		s.Candidates, html.EscapeString(s.Latency.String()), s.Seeds, html.EscapeString(benchCommand(s)))
	b.WriteString(`<h2>Failover times</h2>
<p class="how">One row per scenario and timing (LeaseDuration/RenewDeadline/RetryPeriod). The columns give the
failovers of all runs (min, median, p99, max), the window client-go's algorithm allows for them
(scenarios.Bounds), how many fell outside it (0 means the simulator agrees with the arithmetic),
the leaderless time per run and the runs in which two candidates acted as leader at once.
The same table: <a href="` + tableMD + `">` + tableMD + `</a>, <a href="` + tableJSON + `">` + tableJSON + `</a> (with every run).</p>
`)
	b.WriteString(markdownTableHTML(table))
	for _, i := range benchmark.Drawn(results) {
		r := results[i]
		id := r.Scenario.ID
		fmt.Fprintf(&b, "<h2 id=\"%s\">%s</h2>\n<p>%s</p>\n", html.EscapeString(id), html.EscapeString(id), html.EscapeString(r.Scenario.Description))
		fmt.Fprintf(&b, `<p class="how">Histogram: one row per timing, each on its own scale. The bars count the failovers of all seeds by their
virtual duration; the green band is the window the arithmetic allows, the dashed lines are the median (black) and p99 (red).
A bar outside the green band would be a failover the arithmetic does not explain.</p>
<p><img src="histogram-%s.svg" alt="histogram of %s failovers"></p>
`, id, id)
		if ex := r.Example; ex != nil {
			fmt.Fprintf(&b, `<p class="how">Timeline of a representative run (the seed whose first failover is nearest the median):
time runs left to right; the top lanes show API-wide faults and the lease holder as stored (leaderless time marked red
on it), then one lane per candidate with its terms as acting leader (solid bars), partitions (hatched), crashes (x) and
stops (|); a red band across all lanes would be two leaders at once. Replay it with <code>%s</code>.</p>
<p><img src="timeline-%s.svg" alt="timeline of a representative %s run"></p>
`, html.EscapeString(runCommand(id, ex.Seed, setting{timing: r.Timing}, s.Candidates, s.Latency)), id, id)
		}
	}
	b.WriteString("</body></html>\n")
	return []byte(b.String())
}

// markdownTableHTML turns the Markdown table WriteTable writes into an HTML
// table, so that the page shows exactly the table on stdout.
func markdownTableHTML(md string) string {
	var b strings.Builder
	b.WriteString("<table>\n")
	for i, line := range strings.Split(strings.TrimSpace(md), "\n") {
		if i == 1 { // the alignment row
			continue
		}
		cell := "td"
		if i == 0 {
			cell = "th"
		}
		b.WriteString("<tr>")
		for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
			fmt.Fprintf(&b, "<%s>%s</%s>", cell, html.EscapeString(strings.TrimSpace(c)), cell)
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table>\n")
	return b.String()
}

// benchCommand is the bench command line that measures s.
func benchCommand(s spec) string {
	return fmt.Sprintf("leaderlab bench --timing %s --candidates %d --latency %s --scenarios %s --seeds %d",
		timingLabels(s.Timings), s.Candidates, s.Latency, strings.Join(s.Scenarios, ","), s.Seeds)
}

// runCommand is the run command line that replays one run.
func runCommand(id string, seed int64, s setting, candidates int, lat sim.Dist) string {
	return fmt.Sprintf("leaderlab run %s --seed %d %s --candidates %d --latency %s", id, seed, s.replayArgs(), candidates, lat)
}
