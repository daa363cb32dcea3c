package sim

import (
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var leasesGVR = coordinationv1.SchemeGroupVersion.WithResource("leases")

// inject applies f now. It runs on the body's goroutine (Cluster methods) or
// on the network's (Options.Faults); either way nothing else of the simulator
// runs at this instant in between, so the order is defined.
func (c *Cluster) inject(f Fault) {
	n := c.net
	span := FaultSpan{Kind: f.Kind, Candidate: f.Candidate, Detail: faultDetail(f)}
	switch f.Kind {
	case FaultCrash, FaultStop:
		cand := c.candidate(f.Candidate)
		cand.mu.Lock()
		p := cand.proc
		cand.mu.Unlock()
		c.rec.faultStarted("", span)
		if p == nil || p.isGone() {
			return
		}
		if f.Kind == FaultCrash {
			p.stoppedLeading(EndCrash)
			p.kill()
			return
		}
		p.mu.Lock()
		p.stopping = true
		p.mu.Unlock()
		p.cancel()
	case FaultStart:
		cand := c.candidate(f.Candidate)
		c.rec.faultStarted("", span)
		c.startProcess(cand, f.Identity)
	case FaultPartition:
		c.candidate(f.Candidate)
		n.mu.Lock()
		already := n.partitioned[f.Candidate]
		n.partitioned[f.Candidate] = true
		n.mu.Unlock()
		if already {
			return
		}
		c.rec.faultStarted("partition/"+f.Candidate, span)
		c.after(f.For, func() { c.heal(f.Candidate) })
	case FaultLatency:
		n.mu.Lock()
		rule := latencyRule{scope: scope{f.Candidate, f.Verb}, req: f.Request, resp: f.Response}
		n.latency = append(n.latency, rule)
		n.mu.Unlock()
		key := fmt.Sprintf("latency/%s/%s/%d", f.Candidate, f.Verb, c.Now())
		c.rec.faultStarted(key, span)
		c.after(f.For, func() {
			n.mu.Lock()
			for i := range n.latency {
				if n.latency[i] == rule {
					n.latency = append(n.latency[:i:i], n.latency[i+1:]...)
					break
				}
			}
			n.mu.Unlock()
			c.rec.faultEnded(key, "latency rule ended "+span.Detail)
		})
	case FaultSlowResponse:
		n.mu.Lock()
		n.slow = append(n.slow, slowRule{scope: scope{f.Candidate, f.Verb}, delay: f.Delay})
		n.mu.Unlock()
		c.rec.faultStarted("", span)
	case FaultErrors:
		sc := scope{f.Candidate, f.Verb}
		key := "errors/" + f.Candidate + "/" + f.Verb
		n.mu.Lock()
		for i := range n.errs {
			if n.errs[i].scope == sc {
				n.errs = append(n.errs[:i:i], n.errs[i+1:]...)
				break
			}
		}
		if f.Rate > 0 {
			n.errs = append(n.errs, errorRule{scope: sc, code: f.Code, rate: f.Rate, retryAfter: f.RetryAfter})
		}
		n.mu.Unlock()
		c.rec.faultEnded(key, "error rule replaced")
		if f.Rate == 0 {
			return
		}
		c.rec.faultStarted(key, span)
		c.after(f.For, func() {
			n.mu.Lock()
			for i := range n.errs {
				if n.errs[i].scope == sc {
					n.errs = append(n.errs[:i:i], n.errs[i+1:]...)
					break
				}
			}
			n.mu.Unlock()
			c.rec.faultEnded(key, "error rule ended "+span.Detail)
		})
	case FaultOutage, FaultBlackHole:
		count := &n.outage
		if f.Kind == FaultBlackHole {
			count = &n.blackHole
		}
		n.mu.Lock()
		*count++
		n.mu.Unlock()
		key := fmt.Sprintf("%s/%d", f.Kind, c.Now())
		c.rec.faultStarted(key, span)
		c.after(f.For, func() {
			n.mu.Lock()
			*count--
			n.mu.Unlock()
			c.rec.faultEnded(key, string(f.Kind)+" ended")
		})
	case FaultDeleteLease:
		c.rec.faultStarted("", span)
		if err := n.srv.Delete(leasesGVR, c.opts.Namespace, c.opts.LeaseName); err == nil {
			n.setHolder("", "foreign delete")
		}
	case FaultOverwriteLease:
		c.rec.faultStarted("", span)
		c.overwriteLease(f.Identity)
	}
}

// after runs fn on the network's event loop d from now; d == 0 means never
// (the fault lasts until the end of the run).
func (c *Cluster) after(d time.Duration, fn func()) {
	if d > 0 {
		c.net.schedule(time.Now().Add(d), -1, fn)
	}
}

func (c *Cluster) heal(name string) {
	n := c.net
	n.mu.Lock()
	was := n.partitioned[name]
	delete(n.partitioned, name)
	n.mu.Unlock()
	if was {
		c.rec.faultEnded("partition/"+name, "heal "+name)
	}
}

func (c *Cluster) overwriteLease(holder string) {
	n := c.net
	now := metav1.NewMicroTime(time.Now())
	secs := int32(c.opts.Timing.LeaseDuration / time.Second)
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: c.opts.LeaseName, Namespace: c.opts.Namespace},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs,
			AcquireTime: &now, RenewTime: &now},
	}
	var err error
	if _, getErr := n.srv.Get(leasesGVR, c.opts.Namespace, c.opts.LeaseName); getErr == nil {
		err = n.srv.Update(leasesGVR, lease)
	} else {
		err = n.srv.Add(lease)
	}
	if err != nil {
		c.rec.add("sim", "overwrite-lease failed: "+err.Error())
		return
	}
	n.setHolder(holder, "foreign write")
}

func faultDetail(f Fault) string {
	s := ""
	add := func(format string, args ...any) {
		if s != "" {
			s += " "
		}
		s += fmt.Sprintf(format, args...)
	}
	if f.Candidate != "" {
		add("%s", f.Candidate)
	}
	if f.Verb != "" {
		add("verb=%s", f.Verb)
	}
	switch f.Kind {
	case FaultLatency:
		add("request=%v response=%v", f.Request, f.Response)
	case FaultSlowResponse:
		add("delay=%v", f.Delay)
	case FaultErrors:
		add("code=%d rate=%v", f.Code, f.Rate)
		if f.RetryAfter > 0 {
			add("retryAfter=%v", f.RetryAfter)
		}
	case FaultStart, FaultOverwriteLease:
		if f.Identity != "" {
			add("identity=%s", f.Identity)
		}
	}
	if f.For > 0 {
		add("for=%v", f.For)
	}
	return s
}

func faultString(f Fault) string {
	s := fmt.Sprintf("%s@%v", f.Kind, f.At)
	if d := faultDetail(f); d != "" {
		s += "(" + d + ")"
	}
	return s
}
