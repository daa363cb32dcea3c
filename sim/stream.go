package sim

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// stream carries a watch's body from the server to the client across the
// candidate's network: each chunk the server writes arrives one response leg
// later, in order; a partition or an outage breaks the stream (the client
// sees an error and watches again), a black hole stalls it until it ends.
type stream struct {
	r     *request
	src   io.ReadCloser
	draws source // the stream's own, seeded by its request's key

	mu     sync.Mutex
	chunks [][]byte
	err    error // why the stream ended, once the client has had every chunk before it
	last   time.Time
	notify chan struct{}
}

// breakStreams breaks the open watches of cand ("" for every candidate) that
// the network stops: at once, for why, when the server is gone (an outage, a
// restart); after the connection health check for a partition or black hole
// that still holds then (dropped packets go unnoticed until the check).
func (c *Cluster) breakStreams(cand string, after time.Duration, why string) {
	// Its connections broken, a client reconnects to a fresh replica.
	if after == 0 {
		c.endReplicas(cand, func(string) bool { return true })
	} else {
		c.api.schedule(time.Now().Add(after), -1, 0, func() {
			c.endReplicas(cand, func(name string) bool { unreachable, _ := c.rules.reachability(name); return unreachable })
		})
	}
	c.streams.Range(func(k, v any) bool {
		s, name := k.(*stream), v.(string)
		if cand != "" && name != cand {
			return true
		}
		if after == 0 {
			s.breakOff(why)
			return true
		}
		c.api.schedule(time.Now().Add(after), -1, s.r.plan.key, func() {
			if unreachable, _ := c.rules.reachability(name); unreachable {
				s.breakOff(c.rules.whyUnreachable(name) + ", connection health check failed")
			}
		})
		return true
	})
}

// errStreamBroken is what a client reads from a watch that a partition or an
// outage broke.
var errStreamBroken = errors.New("sim: watch stream broken")

// stallRetry is how often a stalled chunk looks again whether the black hole
// has ended.
const stallRetry = 100 * time.Millisecond

// newStream relays src, the body of the watch r, to its client. Its legs are
// drawn from a source seeded by r's key, so they depend on the watch alone,
// not on which of the candidate's watches opened first.
func newStream(r *request, src io.ReadCloser) *stream {
	return &stream{r: r, src: src, notify: make(chan struct{}, 1), last: time.Now(),
		draws: source{state: r.plan.key ^ streamSalt}}
}

// streamSalt sets a stream's draws apart from its request's own.
const streamSalt = 0x57ea3d5a17b0c0de

// relay reads the server's stream and sends each chunk across the network,
// until the server ends the stream or the client closes it.
func (s *stream) relay() {
	c, cand := s.r.p.c, s.r.p.cand
	c.streams.Store(s, cand.name)
	defer c.streams.Delete(s)
	_, resp := c.rules.legs(cand.name, s.r.route, c.opts.Latency)
	buf := make([]byte, 32<<10)
	for {
		n, err := s.src.Read(buf)
		if n > 0 {
			data := append([]byte(nil), buf[:n]...)
			at := s.next(draw(&s.draws, resp, c.api.minLeg()) + c.rules.watchDelayOf(cand.name))
			c.api.schedule(at, cand.idx, s.r.plan.key, func() { s.deliver(data) })
		}
		if err != nil {
			at := s.next(draw(&s.draws, resp, c.api.minLeg()))
			c.api.schedule(at, cand.idx, s.r.plan.key, func() { s.end(io.EOF) })
			return
		}
	}
}

// next is the arrival of a chunk sent now with leg: never before the chunk
// sent before it.
func (s *stream) next(leg time.Duration) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = maxTime(s.last, time.Now().Add(leg))
	return s.last
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// deliver hands a chunk to the client, unless the network stops it.
func (s *stream) deliver(data []byte) {
	c, name := s.r.p.c, s.r.p.cand.name
	c.rules.mu.Lock()
	partitioned, outage, hole := c.rules.partitioned[name], c.rules.outage > 0, c.rules.blackHole > 0
	c.rules.mu.Unlock()
	switch {
	case partitioned || outage:
		why := "API outage"
		if partitioned {
			why = name + " is partitioned"
		}
		s.breakOff(why)
	case hole:
		c.api.schedule(time.Now().Add(stallRetry), s.r.p.cand.idx, s.r.plan.key, func() { s.deliver(data) })
	default:
		s.mu.Lock()
		delivered := s.err == nil
		if delivered {
			s.chunks = append(s.chunks, data)
		}
		s.mu.Unlock()
		if delivered {
			c.sawChunk(s, data)
		}
		s.wake()
	}
}

// breakOff ends the stream for the client with an error, as a connection the
// network broke; the server's side ends too.
func (s *stream) breakOff(why string) {
	s.mu.Lock()
	done := s.err != nil
	if !done {
		s.err = fmt.Errorf("%w: %s", errStreamBroken, why)
	}
	s.mu.Unlock()
	if done {
		return
	}
	s.r.trace("watch stream broken: %s", why)
	s.wake()
	_ = s.src.Close()
}

func (s *stream) end(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.wake()
}

func (s *stream) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Read is the client's side: the chunks that have arrived, then the end.
// A process that has ended reads nothing more, whether or not chunks came
// at the instant it ended (not by which of select's cases wins).
func (s *stream) Read(p []byte) (int, error) {
	for {
		if s.r.p.isGone() {
			return 0, errProcessGone
		}
		s.mu.Lock()
		if len(s.chunks) > 0 {
			n := copy(p, s.chunks[0])
			if n == len(s.chunks[0]) {
				s.chunks = s.chunks[1:]
			} else {
				s.chunks[0] = s.chunks[0][n:]
			}
			s.mu.Unlock()
			return n, nil
		}
		err := s.err
		s.mu.Unlock()
		if err != nil {
			return 0, err
		}
		select {
		case <-s.notify:
		case <-s.r.p.gone:
		}
	}
}

// Close is the client giving up the watch: the server's stream ends too.
func (s *stream) Close() error {
	s.end(io.ErrClosedPipe)
	return s.src.Close()
}
