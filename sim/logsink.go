package sim

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-logr/logr"
)

// traceSink is the logr sink of one process: its klog lines go to the trace
// (fact: client-go's elector logs through klog.FromContext). With p nil it is
// the run c's own, for lines of its goroutines that belong to no process
// (see globalSink), traced under "sim".
type traceSink struct {
	p         *process
	c         *Cluster // when p is nil
	verbosity int
	name      string
	values    []any
}

var _ logr.LogSink = (*traceSink)(nil)

func (s *traceSink) Init(logr.RuntimeInfo)  {}
func (s *traceSink) Enabled(level int) bool { return level <= s.verbosity }

func (s *traceSink) Info(level int, msg string, kv ...any) {
	if s.p != nil {
		s.p.logged(msg)
	}
	if msg != msgFailedToRenew {
		for i := 0; i+1 < len(kv); i += 2 {
			if err, ok := kv[i+1].(error); ok && aboutUnsent(err) {
				return
			}
		}
	}
	s.write(msg, nil, kv)
}

// msgFailedToRenew is client-go's log line when the renew deadline passes.
// Its error is the poll's own context error, not a request's.
const msgFailedToRenew = "Failed to renew lease"

// aboutUnsent reports whether err is the failure of a request that was never
// sent because its context had expired. client-go's renew loop polls every
// RetryPeriod under a RenewDeadline context; when RenewDeadline is a multiple
// of RetryPeriod the last poll and the deadline fall on one virtual instant,
// and whether client-go still tries that request (and logs its failure, as a
// bare context error from the REST client or as our expiredError) depends on
// goroutine scheduling. Leaving these lines out keeps replays identical; the
// request never left the process either way.
func aboutUnsent(err error) bool {
	var e *expiredError
	return errors.As(err, &e) || err == context.DeadlineExceeded //nolint:errorlint // only the bare error, as the REST client returns it before sending
}

func (s *traceSink) Error(err error, msg string, kv ...any) {
	if aboutUnsent(err) {
		return
	}
	s.write(msg, err, kv)
}

func (s *traceSink) write(msg string, err error, kv []any) {
	c, who := s.c, "sim"
	if s.p != nil {
		if s.p.isGone() {
			return
		}
		c, who = s.p.c, s.p.cand.name
	}
	var b strings.Builder
	b.WriteString("log: ")
	if s.name != "" {
		b.WriteString(s.name + ": ")
	}
	b.WriteString(msg)
	if err != nil {
		fmt.Fprintf(&b, " err=%q", err.Error())
	}
	writeKV(&b, s.values)
	writeKV(&b, kv)
	c.rec.add(who, b.String())
}

func writeKV(b *strings.Builder, kv []any) {
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(b, " %v=%v", kv[i], kv[i+1])
	}
}

func (s *traceSink) WithValues(kv ...any) logr.LogSink {
	c := *s
	c.values = append(append([]any(nil), s.values...), kv...)
	return &c
}

func (s *traceSink) WithName(name string) logr.LogSink {
	c := *s
	if c.name != "" {
		name = c.name + "/" + name
	}
	c.name = name
	return &c
}
