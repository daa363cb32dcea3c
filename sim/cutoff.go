package sim

import (
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"time"
)

// EndExit is how a process ended when its Run returned (CutOff.How): a real
// process is gone at exit, whatever goroutines it started.
const EndExit = "exit"

// CutOff is what a process left behind when it ended during the run (a
// crash, or its Run returned: a manager that lost the lease, ExitOnLoss):
// goroutines that still ran and tried to send requests, which never
// arrived, as on a cluster where the process is gone. Requests already on
// the wire when it ended still arrive.
type CutOff struct {
	Candidate string `json:"candidate"`
	Start     int    `json:"start"`
	// How is EndCrash or EndExit, and Ended when.
	How   string        `json:"how"`
	Ended time.Duration `json:"ended"`
	// Requests is how many requests were cut off, and First when the first
	// was.
	Requests int           `json:"requests"`
	First    time.Duration `json:"first"`
	// Senders are the goroutines that sent them, by the first function of
	// each below the client libraries ("pkg.(*Controller).syncStatus"),
	// with how many each sent, in the order they first did.
	Senders []string `json:"senders"`
}

func (c CutOff) String() string {
	return fmt.Sprintf("%s (start %d) ended by %s at %s; %d request(s) its goroutines sent after that never arrived, the first at %s, from %s",
		c.Candidate, c.Start, c.How, strings.TrimSpace(formatOffset(c.Ended)), c.Requests, strings.TrimSpace(formatOffset(c.First)), strings.Join(c.Senders, ", "))
}

// cutOff notes a request of p sent after p ended.
func (c *Cluster) cutOff(p *process, req *http.Request) {
	p.mu.Lock()
	how, ended := p.ended, p.endedAt
	p.mu.Unlock()
	if how == "" {
		return // the run is over
	}
	sender := sendingFunction()
	rt := parseRoute(req)
	first := c.rec.cutOff(CutOff{Candidate: p.cand.name, Start: p.start, How: how, Ended: ended}, sender)
	if first {
		c.rec.add(p.cand.name, fmt.Sprintf("%s %s: cut off, the process ended (%s) at %s; sent by %s",
			rt.Verb, rt.Resource, how, strings.TrimSpace(formatOffset(ended)), sender))
	}
}

// clientPackages are the frames of a request's stack that say nothing of
// who sent it.
var clientPackages = []string{
	"runtime.", "net/http.", "net/url.", "context.", "sync.",
	"github.com/leaderlab/leaderlab/sim.",
	"k8s.io/client-go/rest.", "k8s.io/client-go/transport.", "k8s.io/client-go/util/", "k8s.io/client-go/gentype.",
	"k8s.io/client-go/kubernetes/typed/", "k8s.io/client-go/dynamic.", "k8s.io/client-go/metadata.",
	"sigs.k8s.io/controller-runtime/pkg/client.", "k8s.io/apimachinery/pkg/util/wait.",
}

// sendingFunction is the first function on the calling goroutine's stack
// outside the client libraries: the code that sent the request.
func sendingFunction() string {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	last := "(unknown)"
	for {
		f, more := frames.Next()
		if f.Function != "" {
			last = f.Function
			if !slices.ContainsFunc(clientPackages, func(p string) bool { return strings.HasPrefix(f.Function, p) }) {
				return f.Function
			}
		}
		if !more {
			return last
		}
	}
}

// cutOff counts a cut-off request of the process co describes; it reports
// whether it is the process's first.
func (r *recorder) cutOff(co CutOff, sender string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.frozen {
		return false
	}
	i := slices.IndexFunc(r.cutOffs, func(x cutOffCount) bool { return x.Candidate == co.Candidate && x.Start == co.Start })
	if i < 0 {
		co.First = r.now()
		r.cutOffs = append(r.cutOffs, cutOffCount{CutOff: co, by: map[string]int{}})
		i = len(r.cutOffs) - 1
	}
	x := &r.cutOffs[i]
	x.Requests++
	if x.by[sender] == 0 {
		x.order = append(x.order, sender)
	}
	x.by[sender]++
	return x.Requests == 1
}

// cutOffCount is a CutOff as it is counted.
type cutOffCount struct {
	CutOff
	by    map[string]int
	order []string
}

func (x cutOffCount) report() CutOff {
	co := x.CutOff
	co.Senders = make([]string, len(x.order))
	for i, s := range x.order {
		co.Senders[i] = fmt.Sprintf("%s (%d)", s, x.by[s])
	}
	return co
}
