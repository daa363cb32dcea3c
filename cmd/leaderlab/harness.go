package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"testing"
)

// withT runs work with a *testing.T and exits the process with the status
// work returns; it never returns.
//
// The simulator runs every cluster in a testing/synctest bubble, and a bubble
// needs the *testing.T of a running test. So the command hosts one test with
// testing.Main, the testing package's entry point for programs that are not
// built by go test. testing writes its own lines ("=== RUN", a failing
// subtest's log, "PASS") to os.Stdout; while work runs, os.Stdout is a
// temporary file instead, so that the command's standard output carries only
// its results (work writes to the real one, held by the cobra command), and
// the simulator's own log reaches standard error only when work fails.
// testing.Main ends in os.Exit, so withT exits from inside the test once work
// is done, after removing the file; testing's own exit statuses never reach
// the user.
func withT(stderr io.Writer, work func(t *testing.T) int) {
	testing.Init()
	// -test.v streams every test's log into the file at once: the log of a
	// failed run is then there when work decides what to print.
	_ = flag.Set("test.v", "true")
	// testing.Main parses flag.CommandLine unless it was parsed: parse
	// nothing, so that it leaves the command's own arguments alone.
	_ = flag.CommandLine.Parse(nil)
	logFile, err := os.CreateTemp("", "leaderlab-*.log")
	if err != nil {
		fmt.Fprintf(stderr, "leaderlab: a temporary file for the simulator's log: %v\n", err)
		os.Exit(1)
	}
	stdout := os.Stdout
	os.Stdout = logFile
	all := func(string, string) (bool, error) { return true, nil }
	testing.Main(all, []testing.InternalTest{{Name: "leaderlab", F: func(t *testing.T) {
		code := exitFailed
		// Deferred, so that it also runs when work ends the test early
		// (t.Fatal) or panics (a bug: said as one, with its stack).
		defer func() {
			if r := recover(); r != nil {
				fmt.Fprintf(stderr, "leaderlab: internal error: %v\n%s", r, debug.Stack())
			}
			os.Stdout = stdout
			if code != exitOK {
				writeFailures(stderr, logFile.Name())
			}
			_ = logFile.Close()
			_ = os.Remove(logFile.Name())
			os.Exit(code)
		}()
		code = work(t)
	}}}, nil, nil)
}

// writeFailures copies the simulator's log lines from path to w, without
// testing's bookkeeping of runs that passed.
func writeFailures(w io.Writer, path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "=== ") || strings.HasPrefix(trimmed, "--- PASS") || trimmed == "" {
			continue
		}
		lines = append(lines, line)
	}
	if len(lines) > 0 {
		fmt.Fprintf(w, "simulator log:\n%s\n", strings.Join(lines, "\n"))
	}
}
