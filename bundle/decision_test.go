package bundle

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// decisions parses a decision log.
func decisions(t *testing.T, log string) []Decision {
	t.Helper()
	var ds []Decision
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		if l == "" {
			continue
		}
		var d Decision
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		ds = append(ds, d)
	}
	return ds
}

func TestRecorderScrubsAndCapsEveryStringField(t *testing.T) {
	secret := "s3cret-value-4242"
	scrub := func(s string) string { return strings.ReplaceAll(s, secret, redactedMark) }
	log := &syncBuffer{}
	rec := NewRecorder(log, "t1", scrub)
	var d Decision
	v := reflect.ValueOf(&d).Elem()
	for _, i := range stringFields {
		v.Field(i).SetString("x" + secret + strings.Repeat("é", maxDecisionField))
	}
	d.Verdict = VerdictHold
	rec.Record(d)
	for where, got := range map[string]Decision{"log": decisions(t, log.String())[0], "held": rec.Held()[0].Decision} {
		gv := reflect.ValueOf(got)
		for _, i := range stringFields {
			name := gv.Type().Field(i).Name
			s := gv.Field(i).String()
			if name == "Verdict" || name == "Instance" {
				continue
			}
			if strings.Contains(s, secret) || !strings.HasPrefix(s, "x"+redactedMark) {
				t.Errorf("%s: %s not scrubbed: %.60s", where, name, s)
			}
			if !utf8.ValidString(s) || !strings.Contains(s, "…[+") || len(s) > maxDecisionField+len("…[+99999 bytes]") {
				t.Errorf("%s: %s not cut on a rune boundary with a mark: %d bytes", where, name, len(s))
			}
		}
	}
}

func TestRecorderWritesSummaryWhenWindowCloses(t *testing.T) {
	log := &syncBuffer{}
	rec := NewRecorder(log, "t1", nil)
	rec.window = 50 * time.Millisecond
	deny := Decision{Daemon: "proxy", Verdict: VerdictDeny, Host: "evil.example.test", Method: "GET", Reason: "no"}
	for i := 0; i < 3; i++ {
		deny.Path = fmt.Sprintf("/%d", i)
		rec.Record(deny)
	}
	// A different key is logged at once.
	other := deny
	other.Host = "other.example.test"
	rec.Record(other)
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(log.String(), "\n") < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	ds := decisions(t, log.String())
	if len(ds) != 3 || ds[0].Count != 0 || ds[1].Host != "other.example.test" || ds[2].Count != 2 || ds[2].Path != "/2" || ds[2].First.IsZero() {
		t.Fatalf("want first line, other key, then a summary of 2:\n%s", log.String())
	}
	// One more: counted in the next window (flushed at shutdown) or,
	// when that window already closed empty, written at once; either way
	// one line.
	rec.Record(deny)
	rec.Flush()
	if ds = decisions(t, log.String()); len(ds) != 4 || ds[3].Count > 1 {
		t.Fatalf("want one more line:\n%s", log.String())
	}
}

func TestRecorderBoundsDistinctKeys(t *testing.T) {
	log := &syncBuffer{}
	rec := NewRecorder(log, "t1", nil)
	const n = maxDenialKeys + 500
	for i := 0; i < n; i++ {
		rec.Record(Decision{Daemon: "proxy", Verdict: VerdictDeny, Host: fmt.Sprintf("h%d.example.test", i), Method: "GET"})
	}
	rec.Flush()
	ds := decisions(t, log.String())
	if len(ds) != maxDenialKeys+1 {
		t.Fatalf("%d distinct denials wrote %d lines, want %d and one overflow summary", n, len(ds), maxDenialKeys)
	}
	if last := ds[len(ds)-1]; last.Count != n-maxDenialKeys || last.Daemon != "bundle" {
		t.Fatalf("overflow summary: %+v", last)
	}
	if got := len(rec.Denied()); got != maxDenied {
		t.Fatalf("denied list holds %d, want %d", got, maxDenied)
	}
}

func TestRecorderHeldListBounded(t *testing.T) {
	rec := NewRecorder(&syncBuffer{}, "t1", nil)
	for i := 0; i < maxHeld+5; i++ {
		rec.Record(Decision{Verdict: VerdictHold, Path: fmt.Sprintf("/%d", i)})
	}
	held := rec.Held()
	if len(held) != maxHeld || held[0].Path != "/5" {
		t.Fatalf("held list: %d entries, oldest %s", len(held), held[0].Path)
	}
}
