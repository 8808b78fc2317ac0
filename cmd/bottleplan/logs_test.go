package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/bottleplan/bottleplan/bundle"
	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

// fakeLogs is an executor.LogReader over canned output, by slug and role.
// With Follow it writes its output, then waits for ctx like a live
// container that writes nothing more.
type fakeLogs struct {
	out map[string]fakeOutput // slug + "/" + role
}

type fakeOutput struct {
	stdout, stderr string
	err            error
}

func (f *fakeLogs) Logs(ctx context.Context, req executor.LogRequest, stdout, stderr io.Writer) error {
	o, ok := f.out[req.Instance.Slug+"/"+string(req.Role)]
	if !ok {
		return fmt.Errorf("instance %q is %w: no %s container; run bottleplan apply first", req.Instance.Slug, executor.ErrNotApplied, req.Role)
	}
	if o.err != nil {
		return o.err
	}
	io.WriteString(stdout, o.stdout)
	io.WriteString(stderr, o.stderr)
	if req.Follow {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

// twoInstances is a plan with instances a and b.
func twoInstances() *plan.Plan {
	return &plan.Plan{Project: "p", Instances: []plan.Instance{{Slug: "a"}, {Slug: "bb"}}}
}

// recorded returns the decision log lines a bundle.Recorder of each
// instance writes for the decisions, in the order given (instance,
// decision); a and bb take turns, so the merged log is in that order.
func recorded(t *testing.T, ds []struct {
	slug string
	d    bundle.Decision
}) (map[string]*bytes.Buffer, []string) {
	t.Helper()
	bufs := map[string]*bytes.Buffer{}
	recs := map[string]*bundle.Recorder{}
	var lines []string
	for _, x := range ds {
		if recs[x.slug] == nil {
			bufs[x.slug] = &bytes.Buffer{}
			recs[x.slug] = bundle.NewRecorder(bufs[x.slug], x.slug, nil)
		}
		before := bufs[x.slug].Len()
		recs[x.slug].Record(x.d)
		lines = append(lines, strings.TrimSuffix(bufs[x.slug].String()[before:], "\n"))
		time.Sleep(2 * time.Millisecond) // distinct times, so the merge order is known
	}
	return bufs, lines
}

// TestLogsDecisions: the bundles' decision logs, as a bundle.Recorder
// writes them between lines that are not decisions, are merged in time
// order; --json prints each decision line byte for byte and nothing
// else on stdout; the table shows the columns; the lines that are not
// decisions are counted on stderr.
func TestLogsDecisions(t *testing.T) {
	bufs, lines := recorded(t, []struct {
		slug string
		d    bundle.Decision
	}{
		{"a", bundle.Decision{Daemon: "proxy", Host: "api.example.com", Port: 443, Method: "CONNECT", Verdict: bundle.VerdictAllow, Route: "api.example.com"}},
		{"bb", bundle.Decision{Daemon: "proxy", Host: "evil.test", Port: 443, Method: "CONNECT", Verdict: bundle.VerdictDeny, Reason: "host evil.test is not in the plan's egress routes"}},
		{"a", bundle.Decision{Daemon: "proxy", Host: "api.example.com", Method: "POST", Path: "/v1/\x1b]52;c;aGk=\a", Verdict: bundle.VerdictHold, Reason: "dlp: held for supervision"}},
	})
	// An aggregated line, as the Recorder writes when a refusal's window
	// closes: the last repeat with count, first and last.
	now := time.Now().UTC()
	agg, err := json.Marshal(bundle.Decision{Time: now, Instance: "bb", Daemon: "proxy", Host: "evil.test", Port: 443, Method: "CONNECT",
		Verdict: bundle.VerdictDeny, Reason: "host evil.test is not in the plan's egress routes", Count: 41, First: now.Add(-time.Second), Last: now})
	if err != nil {
		t.Fatal(err)
	}
	bufs["bb"].Write(append(agg, '\n'))
	lines = append(lines, string(agg))
	f := &fakeLogs{out: map[string]fakeOutput{
		"a/bundle":  {stdout: "bundle starting\n" + bufs["a"].String() + "{\"not\":\"a decision\"}\n", stderr: "listening on 10.0.0.2:3128\n"},
		"bb/bundle": {stdout: bufs["bb"].String() + "{truncated", stderr: ""},
	}}
	tests := map[string]struct {
		opts       logsOptions
		color      bool
		wantStdout string
		wantIn     []string
	}{
		"json": {opts: logsOptions{decisions: true, json: true}, wantStdout: strings.Join(lines, "\n") + "\n"},
		"table": {opts: logsOptions{decisions: true}, wantIn: []string{
			"TIME", "INSTANCE  VERDICT  COUNT  METHOD   HOST", "PATH", "REASON",
			"a         allow           CONNECT  api.example.com:443",
			"bb        deny            CONNECT  evil.test:443",
			"not in the plan's egress routes",
			`/v1/\x1b]52;c;aGk=\a`,
			"bb        deny     41     CONNECT  evil.test:443",
		}},
		"table in colour": {opts: logsOptions{decisions: true}, color: true, wantIn: []string{
			ansiGreen + "allow" + ansiReset, ansiRed + "deny" + ansiReset, ansiYellow + "hold" + ansiReset,
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			e := &env{ctx: context.Background(), stdout: &stdout, stderr: &stderr, isTTY: tc.color,
				getenv: func(string) string { return "" }}
			p := twoInstances()
			todo, _ := selectInstances(p, "")
			if err := showLogs(e, f, p, todo, tc.opts); err != nil {
				t.Fatal(err)
			}
			if tc.wantStdout != "" && stdout.String() != tc.wantStdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout.String(), tc.wantStdout)
			}
			for _, w := range tc.wantIn {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			if strings.Contains(stdout.String(), "\x1b]") || strings.Contains(stdout.String(), "listening") {
				t.Errorf("stdout has the agent's escape or the bundle's stderr:\n%q", stdout.String())
			}
			if tc.opts.json {
				for _, l := range strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n") {
					var d bundle.Decision
					if err := json.Unmarshal([]byte(l), &d); err != nil {
						t.Errorf("--json line does not parse: %v: %s", err, l)
					}
				}
			} else {
				rows := strings.Split(stdout.String(), "\n")
				if len(rows) != 6 || !strings.Contains(rows[1], "allow") || !strings.Contains(rows[2], "deny") || !strings.Contains(rows[3], "hold") {
					t.Errorf("want the header and four rows in time order:\n%s", stdout.String())
				}
			}
			if want := "bottleplan logs: skipped 3 line(s) of the bundle's stdout that are not decisions\n"; stderr.String() != want {
				t.Errorf("stderr %q, want %q", stderr.String(), want)
			}
		})
	}
}

// TestLogsAgentOutput: the agents' stdout goes to stdout and their
// stderr to stderr, prefixed with the slug when more than one instance
// is shown; on a terminal their control characters are escaped.
func TestLogsAgentOutput(t *testing.T) {
	f := &fakeLogs{out: map[string]fakeOutput{
		"a/agent":  {stdout: "hello from a\nno newline", stderr: "warn a\n"},
		"bb/agent": {stdout: "title\x1b]0;pwned\a\n"},
	}}
	tests := map[string]struct {
		only       string
		tty        bool
		wantStdout string
		wantStderr string
	}{
		"all instances": {
			wantStdout: "a  | hello from a\na  | no newline\nbb | title\x1b]0;pwned\a\n",
			wantStderr: "a  | warn a\n",
		},
		"one instance": {only: "a", wantStdout: "hello from a\nno newline\n", wantStderr: "warn a\n"},
		"terminal":     {only: "bb", tty: true, wantStdout: "title\\x1b]0;pwned\\a\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			e := &env{ctx: context.Background(), stdout: &stdout, stderr: &stderr, isTTY: tc.tty,
				getenv: func(string) string { return "1" }} // NO_COLOR
			p := twoInstances()
			todo, err := selectInstances(p, tc.only)
			if err != nil {
				t.Fatal(err)
			}
			if err := showLogs(e, f, p, todo, logsOptions{instance: tc.only}); err != nil {
				t.Fatal(err)
			}
			if stdout.String() != tc.wantStdout || stderr.String() != tc.wantStderr {
				t.Errorf("stdout %q stderr %q\nwant %q and %q", stdout.String(), stderr.String(), tc.wantStdout, tc.wantStderr)
			}
		})
	}
}

// TestLogsFollowEndsOnCancel: -f prints what comes and ends without
// error when its context is cancelled (Ctrl-C); an instance that is not
// applied is still an error naming apply.
func TestLogsFollowEndsOnCancel(t *testing.T) {
	f := &fakeLogs{out: map[string]fakeOutput{"a/agent": {stdout: "line\n"}, "bb/agent": {stdout: "other\n"}}}
	tests := map[string]struct {
		plan    *plan.Plan
		wantErr string
	}{
		"cancelled": {plan: twoInstances()},
		"one not applied": {plan: &plan.Plan{Project: "p", Instances: []plan.Instance{{Slug: "a"}, {Slug: "gone"}}},
			wantErr: `instance "gone" is not applied: no agent container; run bottleplan apply first`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			var stdout, stderr bytes.Buffer
			w := &notifyWriter{w: &stdout, wrote: make(chan struct{}, 10)}
			e := &env{ctx: ctx, stdout: w, stderr: &stderr, getenv: func(string) string { return "" }}
			todo, _ := selectInstances(tc.plan, "")
			done := make(chan error, 1)
			go func() { done <- showLogs(e, f, tc.plan, todo, logsOptions{follow: true}) }()
			<-w.wrote
			cancel()
			err := <-done
			if tc.wantErr == "" && err != nil {
				t.Fatalf("-f ended with %v after cancel, want nil", err)
			}
			if tc.wantErr != "" {
				// Printed as it happened, while the other instance went on.
				if code := report(e, commands["logs"], err); code != exitError || stderr.String() != "bottleplan logs: "+tc.wantErr+"\n" {
					t.Fatalf("-f ended with exit %d, stderr %q; want exit 1 and %q", code, stderr.String(), tc.wantErr)
				}
			}
			if !strings.Contains(stdout.String(), "a  | line\n") && !strings.Contains(stdout.String(), "a    | line\n") {
				t.Errorf("stdout %q lacks a's line", stdout.String())
			}
		})
	}
}

// notifyWriter signals each write.
type notifyWriter struct {
	w     io.Writer
	wrote chan struct{}
}

func (n *notifyWriter) Write(p []byte) (int, error) {
	defer func() {
		select {
		case n.wrote <- struct{}{}:
		default:
		}
	}()
	return n.w.Write(p)
}

// BenchmarkLogsDecisionsFullLog renders a decision log as large as the
// Engine keeps for one bundle (the log rotation's 30 MiB) as a table.
func BenchmarkLogsDecisionsFullLog(b *testing.B) {
	var log bytes.Buffer
	rec := bundle.NewRecorder(&log, "a", nil)
	for i := 0; log.Len() < 30<<20; i++ {
		rec.Record(bundle.Decision{Daemon: "proxy", Host: fmt.Sprintf("h%d.example.com", i), Port: 443, Method: "GET",
			Path: "/v1/" + strings.Repeat("p", 200), Verdict: bundle.VerdictAllow, Route: "h.example.com"})
	}
	f := &fakeLogs{out: map[string]fakeOutput{"a/bundle": {stdout: log.String()}}}
	p := &plan.Plan{Project: "p", Instances: []plan.Instance{{Slug: "a"}}}
	b.SetBytes(int64(log.Len()))
	b.ReportAllocs()
	for b.Loop() {
		e := &env{ctx: context.Background(), stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
		if err := showLogs(e, f, p, []*plan.Instance{&p.Instances[0]}, logsOptions{decisions: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAttackPrintableHidesFormatCharacters: text the agent chose (a
// question, a path, a reason) reaches the operator's terminal through
// printable. A right-to-left override (U+202E), a zero-width joiner or
// a line separator (U+2028) would let it reorder or hide what the
// operator reads, so every one is shown escaped, as control characters
// are.
func TestAttackPrintableHidesFormatCharacters(t *testing.T) {
	for _, r := range []rune{'\u202e', '\u2066', '\u200b', '\u200d', '\ufeff', '\u2028', '\u2029', '\u00ad', '\x1b'} {
		in := "deny " + string(r) + "approve"
		out := printable(in)
		if strings.ContainsRune(out, r) {
			t.Errorf("printable(%q) = %q: still holds %U", in, out, r)
		}
	}
	if got := printable("naïve café/päth"); got != "naïve café/päth" {
		t.Errorf("printable changed ordinary text: %q", got)
	}
}
