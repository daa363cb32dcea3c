//go:build ignore

// Summarize prints what hack/crsuites/run.sh measured: for each suite on each
// backend, specs passed / total and wall time; then every spec that fails on
// the in-memory server, with the first line of its failure.
//
//	go run hack/crsuites/summarize.go REPORT_DIR SUITE... -- BACKEND...
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: summarize REPORT_DIR SUITE... -- BACKEND...")
		os.Exit(2)
	}
	dir := os.Args[1]
	var suites, backends []string
	rest := &suites
	for _, a := range os.Args[2:] {
		if a == "--" {
			rest = &backends
			continue
		}
		*rest = append(*rest, a)
	}

	fmt.Printf("%-8s %-8s %17s %7s %7s %7s %10s %10s  %s\n",
		"suite", "backend", "passed/total", "failed", "skipped", "pending", "wall", "specs", "exit")
	failures := map[string][]string{}
	for _, s := range suites {
		for _, b := range backends {
			wall, rc := readTime(filepath.Join(dir, s+"-"+b+".time"))
			reps, err := readReport(filepath.Join(dir, s+"-"+b+".json"))
			if err != nil {
				fmt.Printf("%-8s %-8s no report (%v); exit %s, see %s\n", s, b, err, rc, filepath.Join(dir, s+"-"+b+".log"))
				continue
			}
			var passed, failed, skipped, pending, total int
			var runTime time.Duration
			for _, r := range reps {
				runTime += r.RunTime
				for _, sr := range r.SpecReports {
					if sr.LeafNodeType != types.NodeTypeIt {
						// BeforeSuite, AfterSuite, ReportAfterSuite...: only their failures count.
						if sr.State.Is(types.SpecStateFailureStates) {
							failures[s+" "+b] = append(failures[s+" "+b], failureLine(sr))
						}
						continue
					}
					total++
					switch {
					case sr.State == types.SpecStatePassed:
						passed++
					case sr.State == types.SpecStatePending:
						pending++
					case sr.State == types.SpecStateSkipped:
						skipped++
					default:
						failed++
						failures[s+" "+b] = append(failures[s+" "+b], failureLine(sr))
					}
				}
			}
			fmt.Printf("%-8s %-8s %17s %7d %7d %7d %10s %10s  %s\n", s, b,
				fmt.Sprintf("%d/%d", passed, total), failed, skipped, pending,
				wall.Round(100*time.Millisecond), runTime.Round(100*time.Millisecond), rc)
		}
	}
	fmt.Println("\n(wall: the test binary's whole run, server start and stop included; specs: ginkgo's run time)")

	for _, b := range backends {
		for _, s := range suites {
			f := failures[s+" "+b]
			if len(f) == 0 || (b != "memory" && len(backends) > 1) {
				continue
			}
			fmt.Printf("\n%s suite: %d failing on %s\n", s, len(f), b)
			for _, l := range f {
				fmt.Println(l)
			}
		}
	}
	// Failures on envtest are listed too, but only by name: they are not the server's.
	for _, s := range suites {
		f := failures[s+" envtest"]
		if len(f) > 0 && len(backends) > 1 {
			fmt.Printf("\n%s suite: %d failing on envtest too (see %s)\n", s, len(f), filepath.Join(dir, s+"-envtest.log"))
			for _, l := range f {
				fmt.Println(strings.SplitN(l, "\n", 2)[0])
			}
		}
	}
}

func readReport(path string) ([]types.Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var reps []types.Report
	return reps, json.Unmarshal(data, &reps)
}

// readTime reads "start end exitcode" as run.sh writes it.
func readTime(path string) (time.Duration, string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, "?"
	}
	f := strings.Fields(string(data))
	if len(f) != 3 {
		return 0, "?"
	}
	start, _ := strconv.ParseFloat(f[0], 64)
	end, _ := strconv.ParseFloat(f[1], 64)
	return time.Duration((end - start) * float64(time.Second)), f[2]
}

// failureLine is "- [state] spec text" and, indented, the first line of the
// failure (with the lines that follow a bare "Expected" or a line ending in
// ':', which say nothing alone) and where it failed.
func failureLine(sr types.SpecReport) string {
	name := sr.FullText()
	if name == "" {
		name = "[" + sr.LeafNodeType.String() + "]"
	}
	var first []string
	for _, l := range strings.Split(sr.Failure.Message, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		first = append(first, l)
		if l != "Expected" && !strings.HasSuffix(l, ":") && !strings.HasSuffix(l, "|") || len(first) == 4 {
			break
		}
	}
	msg := strings.Join(first, " ")
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	loc := sr.Failure.Location
	return fmt.Sprintf("- [%s] %s\n    %s\n    at %s:%d (%s)", sr.State, name, msg,
		filepath.Base(loc.FileName), loc.LineNumber, sr.Failure.FailureNodeType)
}
