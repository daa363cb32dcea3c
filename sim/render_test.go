package sim_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/sim"
)

// overlapRun is margin (b) for a seed that TestReleaseOnCancelPartitionOverlap
// shows to overlap.
func overlapRun(t *testing.T) *sim.Report {
	for _, seed := range seeds {
		rep := sim.Test(t, sim.Options{Seed: seed, Candidates: 3, ReleaseOnCancel: true, AllowOverlap: true}, func(c *sim.Cluster) {
			leader := c.AwaitLeader(ld)
			c.Advance(20*time.Second + time.Duration(seed)*271*time.Millisecond)
			c.Partition(leader)
			c.Advance(ld + rd + 5*rp)
			c.Crash(c.Leader())
			c.Advance(ld + 5*rp)
		})
		if len(rep.Overlaps) > 0 {
			return rep
		}
	}
	t.Fatal("no seed overlapped")
	return nil
}

func TestRenderings(t *testing.T) {
	rep := overlapRun(t)

	svg := rep.SVG()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
	}
	for _, want := range []string{">c0<", ">c1<", ">c2<", ">lease holder<", ">API faults<", "both acting for", "partition", "crash", "leads"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if path := os.Getenv("SIM_SVG_OUT"); path != "" {
		_ = os.WriteFile(path, svg, 0o644)
	}

	js, err := rep.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back sim.Report
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatalf("JSON does not read back: %v", err)
	}
	if back.Seed != rep.Seed || len(back.Terms) != len(rep.Terms) || len(back.Overlaps) != len(rep.Overlaps) ||
		back.Overlaps[0].Cause != rep.Overlaps[0].Cause || len(back.Trace) != len(rep.Trace) || back.Options.Timing != rep.Options.Timing {
		t.Errorf("JSON round trip lost data")
	}
	if !strings.HasPrefix(string(js), "{\n  \"seed\"") {
		t.Errorf("JSON does not start with the seed: %.40s", js)
	}

	text := rep.Text()
	if !strings.HasPrefix(text, "seed ") || !strings.Contains(text, "\noptions {Seed:") {
		t.Errorf("text does not start with seed and options:\n%.200s", text)
	}
	for _, want := range []string{"overlaps (1):", "pending release", "failovers (", "leadership lost without a crash", "trace ("} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q", want)
		}
	}
}

// The JSON report names every field in camelCase, at every depth.
func TestJSONKeysAreCamelCase(t *testing.T) {
	rep := overlapRun(t)
	b, err := rep.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if path == ".requests.byVerb" || path == ".roundTrips" {
					continue // keys are verbs, not fields
				}
				if k == "" || strings.ToLower(k[:1]) != k[:1] || strings.ContainsAny(k, "_- ") {
					t.Errorf("key %s.%s is not camelCase", path, k)
				}
				walk(path+"."+k, e)
			}
		case []any:
			for _, e := range x {
				walk(path+"[]", e)
			}
		}
	}
	walk("", v)
}
