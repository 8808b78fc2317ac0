package bundle

import (
	"container/list"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sync"
	"time"
	"unicode/utf8"
)

// Verdicts a decision can carry.
const (
	// VerdictAllow: the request or tunnel was forwarded.
	VerdictAllow = "allow"
	// VerdictDeny: refused with 403 "blocked: ...".
	VerdictDeny = "deny"
	// VerdictHold: held open for the operator (dlp "supervise",
	// hold.go); a second line with the same ID says how it ended.
	VerdictHold = "hold"
	// VerdictRedact: forwarded after secret values were cut out of it
	// (dlp "redact").
	VerdictRedact = "redact"
	// VerdictError: allowed by policy but the upstream failed (502).
	VerdictError = "error"
	// VerdictAsk: the agent asked the operator over MCP (mcp.go): an
	// access request (method "ACCESS", host and reason) or a question
	// (method "QUESTION", the question as reason); a second line with
	// the same ID says how it ended.
	VerdictAsk = "ask"
	// VerdictGrant: the operator approved an access request; the host
	// and port are a runtime route from now on (grants.go).
	VerdictGrant = "grant"
	// VerdictRevoke: the operator revoked a runtime grant.
	VerdictRevoke = "revoke"
)

// Decision is one line of the decision log and one entry of the
// supervise list. Callers fill it with what they saw; the Recorder
// scrubs every string field of every secret value and cuts it to
// maxDecisionField bytes before it is written or kept, so no caller has
// to.
type Decision struct {
	Time     time.Time `json:"time"`
	Instance string    `json:"instance"`
	// Daemon is "proxy" or "git-gate".
	Daemon string `json:"daemon"`
	Host   string `json:"host"`
	Port   int    `json:"port,omitempty"`
	Method string `json:"method"`
	// Path is the URL path, without the query string (which often
	// carries tokens).
	Path string `json:"path"`
	// Verdict is one of the Verdict constants.
	Verdict string `json:"verdict"`
	// Route is the matched route's host ("" when none matched), or the
	// repo name for the git gate.
	Route string `json:"route"`
	// Reason says why a request was not simply allowed.
	Reason string `json:"reason,omitempty"`
	// ID names a request held for supervision (hold.go): on the hold
	// and on the line that says how it ended.
	ID string `json:"id,omitempty"`
	// Count, First and Last are set on an entry that stands for several
	// refusals with the same key (see aggregate.go): how many, and the
	// times of the first and the last. An entry without them stands for
	// one, at Time. Path is then the last one's.
	Count int       `json:"count,omitempty"`
	First time.Time `json:"first,omitzero"`
	Last  time.Time `json:"last,omitzero"`
}

// HeldRequest is a request held for supervision (dlp "supervise"). It
// is its own type so what an operator can do with it (release, refuse)
// can be added without touching Decision.
type HeldRequest struct {
	Decision
}

// Recorder writes decisions as JSON lines and keeps the held and denied
// ones for the supervise endpoint, in two bounded lists so that denials
// never push a held request out. Every field passes through one
// scrubber and one length cap before it is written or kept, and repeated
// refusals are aggregated (aggregate.go). It is safe for concurrent use.
type Recorder struct {
	instance string
	scrub    func(string) string
	now      func() time.Time
	// window is how long repeats of a refusal are counted before a
	// summary line; denialWindow unless a test shortens it.
	window time.Duration

	mu     sync.Mutex
	enc    *json.Encoder
	agg    map[aggKey]*aggEntry
	over   *aggEntry // refusals counted when agg is full
	held   []HeldRequest
	denied deniedList
}

// NewRecorder writes to w, stamping each decision with instance. scrub
// replaces every secret value in a string (secretSet.scrub); nil means
// there are no secrets to scrub.
func NewRecorder(w io.Writer, instance string, scrub func(string) string) *Recorder {
	if scrub == nil {
		scrub = func(s string) string { return s }
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &Recorder{
		instance: instance, scrub: scrub, now: time.Now, window: denialWindow,
		enc: enc, agg: map[aggKey]*aggEntry{}, denied: newDeniedList(maxDenied),
	}
}

// Record logs d (filling Time and Instance) and keeps it when it was
// denied or held. A refusal whose key was logged within the window is
// counted instead of written (aggregate.go). A failed write to the log
// is ignored: losing a log line must not turn into letting a request
// through or failing one.
func (r *Recorder) Record(d Decision) {
	d.Time = r.now().UTC()
	d.Instance = r.instance
	r.clean(&d)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch d.Verdict {
	case VerdictHold:
		if len(r.held) == maxHeld {
			copy(r.held, r.held[1:])
			r.held = r.held[:maxHeld-1]
		}
		r.held = append(r.held, HeldRequest{d})
	case VerdictDeny:
		r.denied.add(d)
	}
	if refusal(d.Verdict) {
		r.aggregate(d)
		return
	}
	r.write(d)
}

// write logs one line; the caller holds r.mu.
func (r *Recorder) write(d Decision) {
	_ = r.enc.Encode(d)
}

// stringFields are the indexes of Decision's string fields: clean
// covers every one, present and future.
var stringFields = func() []int {
	var idx []int
	t := reflect.TypeFor[Decision]()
	for i := range t.NumField() {
		if t.Field(i).Type.Kind() == reflect.String {
			idx = append(idx, i)
		}
	}
	return idx
}()

// clean scrubs every string field of d of every secret value, then cuts
// it to maxDecisionField bytes (scrubbing first, so a cut never leaves
// the start of a secret that scrubbing would have caught).
func (r *Recorder) clean(d *Decision) {
	v := reflect.ValueOf(d).Elem()
	for _, i := range stringFields {
		f := v.Field(i)
		f.SetString(capField(r.scrub(f.String())))
	}
}

// capField cuts s to maxDecisionField bytes, on a UTF-8 boundary, and
// marks the cut with how many bytes were left out.
func capField(s string) string {
	if len(s) <= maxDecisionField {
		return s
	}
	cut := maxDecisionField
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…[+%d bytes]", s[:cut], len(s)-cut)
}

// Held returns a copy of the held requests, oldest first (at most
// maxHeld).
func (r *Recorder) Held() []HeldRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]HeldRequest{}, r.held...)
}

// Denied returns the denials, one entry per aggregation key with its
// count, least recently seen first (at most maxDenied).
func (r *Recorder) Denied() []Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.denied.all()
}

// deniedList keeps one entry per aggregation key, dropping the least
// recently seen when full.
type deniedList struct {
	max   int
	order *list.List // of *Decision, least recently seen at the front
	index map[aggKey]*list.Element
}

func newDeniedList(max int) deniedList {
	return deniedList{max: max, order: list.New(), index: map[aggKey]*list.Element{}}
}

func (l *deniedList) add(d Decision) {
	k := keyOf(d)
	if e, ok := l.index[k]; ok {
		kept := e.Value.(*Decision)
		kept.Count++
		kept.Time, kept.Last, kept.Path = d.Time, d.Time, d.Path
		l.order.MoveToBack(e)
		return
	}
	d.Count, d.First, d.Last = 1, d.Time, d.Time
	l.index[k] = l.order.PushBack(&d)
	if l.order.Len() > l.max {
		oldest := l.order.Front()
		delete(l.index, keyOf(*oldest.Value.(*Decision)))
		l.order.Remove(oldest)
	}
}

func (l *deniedList) all() []Decision {
	out := make([]Decision, 0, l.order.Len())
	for e := l.order.Front(); e != nil; e = e.Next() {
		out = append(out, *e.Value.(*Decision))
	}
	return out
}
