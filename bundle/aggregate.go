package bundle

import (
	"fmt"
	"sort"
	"time"
)

// Repeated refusals are aggregated in the decision log, so an agent
// that repeats a refused request cannot fill the host's disk with copies
// of one line. The first refusal of a key (daemon, verdict, host, port,
// method, route, reason: everything but the path and the time) is
// written at once; repeats within the window that follows are counted,
// and when it closes one summary line is written: the last repeat with
// count (the repeats it stands for), first and last (their times). A
// key still repeated opens another window; a key with no repeats is
// forgotten, so its next refusal is written at once again. Flush (at
// shutdown) writes every pending summary.
//
// At most maxDenialKeys keys are tracked at once. A refusal with a new
// key when the table is full is not written but counted in one overflow
// summary per window, so the lines a window can hold are bounded however
// the agent varies its requests. Allowed and redacted requests are
// written one by one: they reached an upstream that paces them.

// aggKey is what makes two refusals "the same".
type aggKey struct {
	daemon, verdict, host string
	port                  int
	method, route, reason string
}

func keyOf(d Decision) aggKey {
	return aggKey{d.Daemon, d.Verdict, d.Host, d.Port, d.Method, d.Route, d.Reason}
}

// aggEntry counts the repeats of one key in the current window.
type aggEntry struct {
	last  Decision
	count int
	first time.Time
	timer *time.Timer
}

// refusal reports whether verdict is aggregated.
func refusal(verdict string) bool {
	return verdict == VerdictDeny || verdict == VerdictHold || verdict == VerdictError
}

// aggregate writes d or counts it; the caller holds r.mu.
func (r *Recorder) aggregate(d Decision) {
	k := keyOf(d)
	if e, ok := r.agg[k]; ok {
		e.repeat(d)
		return
	}
	if len(r.agg) >= maxDenialKeys {
		if r.over == nil {
			r.over = &aggEntry{}
			e := r.over
			e.timer = time.AfterFunc(r.window, func() { r.closeOverflow(e) })
		}
		r.over.repeat(d)
		return
	}
	r.write(d)
	e := &aggEntry{}
	r.agg[k] = e
	e.timer = time.AfterFunc(r.window, func() { r.closeWindow(k, e) })
}

func (e *aggEntry) repeat(d Decision) {
	if e.count == 0 {
		e.first = d.Time
	}
	e.count++
	e.last = d
}

// summary is the line that stands for e's repeats.
func (e *aggEntry) summary() Decision {
	d := e.last
	d.Count, d.First, d.Last = e.count, e.first, e.last.Time
	return d
}

// closeWindow writes k's summary when its window closes, and keeps
// counting while the key repeats.
func (r *Recorder) closeWindow(k aggKey, e *aggEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.agg[k] != e {
		return // flushed meanwhile
	}
	if e.count == 0 {
		delete(r.agg, k)
		return
	}
	r.write(e.summary())
	e.count = 0
	e.timer = time.AfterFunc(r.window, func() { r.closeWindow(k, e) })
}

func (r *Recorder) closeOverflow(e *aggEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.over != e {
		return
	}
	r.over = nil
	r.write(r.overflowSummary(e))
}

// overflowSummary stands for refusals of many keys, so it names none.
func (r *Recorder) overflowSummary(e *aggEntry) Decision {
	return Decision{
		Time: r.now().UTC(), Instance: r.instance, Daemon: "bundle", Verdict: VerdictDeny,
		Reason: fmt.Sprintf("refusals with more than %d distinct keys at once were counted, not logged one by one", maxDenialKeys),
		Count:  e.count, First: e.first, Last: e.last.Time,
	}
}

// Flush writes every pending summary now and forgets what was counted;
// Bundle.Serve calls it at shutdown so no count is lost.
func (r *Recorder) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	var pending []*aggEntry
	for k, e := range r.agg {
		e.timer.Stop()
		delete(r.agg, k)
		if e.count > 0 {
			pending = append(pending, e)
		}
	}
	sort.Slice(pending, func(i, j int) bool { return pending[i].first.Before(pending[j].first) })
	for _, e := range pending {
		r.write(e.summary())
	}
	if e := r.over; e != nil {
		e.timer.Stop()
		r.over = nil
		r.write(r.overflowSummary(e))
	}
}
