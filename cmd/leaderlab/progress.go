package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// tickLine is what a worker process writes to standard error after each
// run (--progress ticks), for the parent to count into its own progress.
const tickLine = "tick"

// progress reports runs done on standard error: a live bar on a terminal,
// a line per tenth of the runs otherwise (CI logs, pipes), tick lines for a
// parent process, or nothing. It is safe for concurrent use: the workers of
// --shards report from one goroutine each.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	mode  string
	total int
	n     int
	start time.Time
	bar   *progressbar.ProgressBar
}

// newProgress checks mode and returns a progress for total runs on w.
func newProgress(w io.Writer, mode string, total int) (*progress, error) {
	if mode == "auto" {
		mode = "lines"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			mode = "bar"
		}
	}
	p := &progress{w: w, mode: mode, total: total, start: time.Now()}
	switch mode {
	case "bar":
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("runs"),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish(),
			progressbar.OptionThrottle(100*time.Millisecond))
	case "lines", "ticks", "none":
	default:
		return nil, usagef("--progress %q: want auto, bar, lines or none", mode)
	}
	if mode == "lines" && total > 0 {
		fmt.Fprintf(w, "%d runs\n", total)
	}
	return p, nil
}

// tick counts one run done.
func (p *progress) tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	switch p.mode {
	case "bar":
		_ = p.bar.Add(1)
	case "ticks":
		fmt.Fprintln(p.w, tickLine)
	case "lines":
		if step := max(1, p.total/10); p.n%step == 0 || p.n == p.total {
			fmt.Fprintf(p.w, "%d/%d runs, %v\n", p.n, p.total, time.Since(p.start).Round(100*time.Millisecond))
		}
	}
}

// println writes a line of its own without tearing the bar.
func (p *progress) println(w io.Writer, line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	fmt.Fprintln(w, line)
}

// done ends the bar.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
	}
	if p.mode == "bar" || p.mode == "lines" {
		fmt.Fprintf(p.w, "%d runs in %v\n", p.n, time.Since(p.start).Round(100*time.Millisecond))
	}
}
