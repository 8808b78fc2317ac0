package bundle

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Verdicts a decision can carry.
const (
	// VerdictAllow: the request or tunnel was forwarded.
	VerdictAllow = "allow"
	// VerdictDeny: refused with 403 "blocked: ...".
	VerdictDeny = "deny"
	// VerdictHold: refused with 403 and kept for the supervise endpoint
	// (dlp "supervise").
	VerdictHold = "hold"
	// VerdictRedact: forwarded after secret values were cut out of it
	// (dlp "redact").
	VerdictRedact = "redact"
	// VerdictError: allowed by policy but the upstream failed (502).
	VerdictError = "error"
)

// Decision is one line of the decision log. It never holds a secret
// value: only hosts, methods, paths (without query strings, which often
// carry tokens), route hosts and reasons built from those.
type Decision struct {
	Time     time.Time `json:"time"`
	Instance string    `json:"instance"`
	// Daemon is "proxy" or "git-gate".
	Daemon string `json:"daemon"`
	Host   string `json:"host"`
	Port   int    `json:"port,omitempty"`
	Method string `json:"method"`
	Path   string `json:"path"`
	// Verdict is one of the Verdict constants.
	Verdict string `json:"verdict"`
	// Route is the matched route's host ("" when none matched), or the
	// repo name for the git gate.
	Route string `json:"route"`
	// Reason says why a request was not simply allowed.
	Reason string `json:"reason,omitempty"`
}

// maxKept bounds the held and blocked decisions the supervise endpoint
// can list; the oldest are dropped first.
const maxKept = 1000

// Recorder writes decisions as JSON lines and keeps the recent denied
// and held ones for the supervise endpoint. It is safe for concurrent
// use.
type Recorder struct {
	instance string
	now      func() time.Time

	mu   sync.Mutex
	enc  *json.Encoder
	kept []Decision
}

// NewRecorder writes to w, stamping each decision with instance.
func NewRecorder(w io.Writer, instance string) *Recorder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &Recorder{instance: instance, now: time.Now, enc: enc}
}

// Record logs d (filling Time and Instance) and keeps it when it was
// denied or held. A failed write to the log is ignored: losing a log line
// must not turn into letting a request through or failing one.
func (r *Recorder) Record(d Decision) {
	d.Time = r.now().UTC()
	d.Instance = r.instance
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = r.enc.Encode(d)
	if d.Verdict == VerdictDeny || d.Verdict == VerdictHold {
		if len(r.kept) == maxKept {
			copy(r.kept, r.kept[1:])
			r.kept = r.kept[:maxKept-1]
		}
		r.kept = append(r.kept, d)
	}
}

// Kept returns a copy of the kept decisions, oldest first.
func (r *Recorder) Kept() []Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Decision(nil), r.kept...)
}
