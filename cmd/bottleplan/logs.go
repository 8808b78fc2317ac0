package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/plan"
)

func init() {
	register(&command{
		name:  "logs",
		usage: "logs plan.json [--instance S] [--decisions] [--since D] [-f] [--json]",
		short: "show what the agents wrote, or what their bundles decided",
		flags: func(fs *pflag.FlagSet) func(e *env, args []string) error {
			var o logsOptions
			fs.StringVar(&o.instance, "instance", "", "show only this instance (its slug)")
			fs.BoolVar(&o.decisions, "decisions", false, "show the bundle's decision log instead of the agent's output")
			since := fs.String("since", "", "leave out what was written before this: a duration (10m) or an RFC 3339 time")
			fs.BoolVarP(&o.follow, "follow", "f", false, "keep printing new lines until interrupted (Ctrl-C)")
			fs.BoolVar(&o.json, "json", false, "with --decisions: print the decision log's JSON lines as the bundle wrote them")
			return func(e *env, args []string) error {
				var err error
				if o.since, err = parseSince(*since, time.Now()); err != nil {
					return err
				}
				return runLogs(e, args, o)
			}
		},
		example: "bottleplan logs plan.json --instance implementer -f\nbottleplan logs plan.json --decisions --since 10m\nbottleplan logs plan.json --decisions --json | jq 'select(.verdict != \"allow\")'",
	})
}

// logsOptions are the flags of logs.
type logsOptions struct {
	instance  string
	decisions bool
	since     time.Time
	follow    bool
	json      bool
}

// parseSince reads --since as docker does: a Go duration back from now
// ("10m", "1h30m") or an RFC 3339 time ("2026-01-02T15:04:05Z"); "" is
// no limit.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, usagef("--since %q: a duration counts back from now and cannot be negative", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("--since %q: want a duration (10m, 1h30m) or an RFC 3339 time (2026-01-02T15:04:05Z)", s)
}

// runLogs prints, for every instance of the plan (or the one --instance
// names), what its agent container wrote, or with --decisions its
// bundle's decision log. It reads only.
//
// Agent output: the agent's stdout to stdout, its stderr to stderr, each
// line prefixed with the instance slug when more than one instance is
// shown (as `docker compose logs` does); instances one after the other
// in plan order, or as lines arrive with -f. On a terminal, control
// characters other than tab are shown escaped: the agent is not trusted
// with the operator's terminal.
//
// Decisions (decisionview.go): the JSON lines of the bundles' stdout,
// merged in decision-time order (as they arrive with -f), as a table or,
// with --json, verbatim. The bundle's stderr is not part of the log and
// is left out; so is every stdout line that is not a decision, counted
// on stderr at the end.
//
// -f ends when interrupted (exit 0) or when every container stopped. An
// instance that cannot be read (not applied: the message says to run
// apply) is an error on stderr, after the others were printed (as it
// happens with -f, while the others go on), and the exit is 1. A smolvm
// agent, whose output cannot be read yet, is an error when --instance
// names it, and otherwise only noted on stderr.
func runLogs(e *env, args []string, o logsOptions) error {
	if o.json && !o.decisions {
		return usagef("--json prints the decision log; use it with --decisions")
	}
	p, err := readPlanArg(args)
	if err != nil {
		return err
	}
	todo, err := selectInstances(p, o.instance)
	if err != nil {
		return err
	}
	b, err := backendFor(e, p, docker.Options{})
	if err != nil {
		return err
	}
	lr, ok := b.(executor.LogReader)
	if !ok {
		return errors.New("this backend cannot read logs yet")
	}
	return showLogs(e, lr, p, todo, o)
}

// showLogs reads the instances' logs through lr and prints them.
func showLogs(e *env, lr executor.LogReader, p *plan.Plan, todo []*plan.Instance, o logsOptions) error {
	role := executor.RoleAgent
	if o.decisions {
		role = executor.RoleBundle
	}
	out := newLogPrinter(e, todo, o)
	read := func(in *plan.Instance) error {
		req := executor.LogRequest{Project: p.Project, Instance: in, Role: role, Since: o.since, Follow: o.follow}
		stdout, stderr := out.writers(in.Slug)
		err := lr.Logs(e.ctx, req, stdout, stderr)
		stdout.Close()
		stderr.Close()
		return err
	}
	// report says what became of one instance's read: nothing (read to
	// the end, or interrupted while following: the normal end of -f), a
	// note (left out: nobody asked for it by name) or a failure. With -f
	// it is printed as it happens, while the other instances go on.
	failed := false
	report := func(err error) {
		switch {
		case err == nil:
		case o.follow && e.ctx.Err() != nil && errors.Is(err, e.ctx.Err()):
		case errors.Is(err, executor.ErrLogsUnsupported) && o.instance == "":
			out.note("skipped: %v", err)
		default:
			failed = true
			out.note("%v", err)
		}
	}
	if o.follow {
		var wg sync.WaitGroup
		for _, in := range todo {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := read(in)
				out.mu.Lock()
				defer out.mu.Unlock()
				report(err)
			}()
		}
		wg.Wait()
		out.finish()
	} else {
		errs := make([]error, len(todo))
		for i, in := range todo {
			errs[i] = read(in)
		}
		out.finish()
		for _, err := range errs {
			report(err)
		}
	}
	if failed {
		return silent(exitError)
	}
	return nil
}

// logPrinter turns the demultiplexed streams of every instance into
// lines and prints them: agent lines as they come, decisions as they
// come with -f and sorted by time at the end without it.
type logPrinter struct {
	e     *env
	o     logsOptions
	color bool
	// prefixes maps a slug to its line prefix ("" for one instance).
	prefixes map[string]string

	mu        sync.Mutex
	decisions []decisionLine // without -f, printed by finish
	skipped   int            // bundle stdout lines that are not decisions
	header    bool           // the table header was printed (-f)
	widths    []int          // column widths of the table with -f
}

func newLogPrinter(e *env, todo []*plan.Instance, o logsOptions) *logPrinter {
	lp := &logPrinter{e: e, o: o, color: e.isTTY && e.getenv("NO_COLOR") == "", prefixes: map[string]string{}}
	width := 0
	for _, in := range todo {
		width = max(width, len(in.Slug))
	}
	for i, in := range todo {
		if len(todo) > 1 {
			lp.prefixes[in.Slug] = paint(lp.color, instanceColors[i%len(instanceColors)], fmt.Sprintf("%-*s", width, in.Slug)) + " | "
		}
	}
	lp.widths = followWidths(width)
	return lp
}

// writers returns the line writers for slug's stdout and stderr.
func (lp *logPrinter) writers(slug string) (stdout, stderr *lineWriter) {
	if lp.o.decisions {
		// The decision log is the bundle's stdout; its stderr is not.
		return &lineWriter{line: func(b []byte) { lp.decision(b) }}, &lineWriter{line: func([]byte) {}}
	}
	return &lineWriter{line: func(b []byte) { lp.agentLine(lp.e.stdout, slug, b) }},
		&lineWriter{line: func(b []byte) { lp.agentLine(lp.e.stderr, slug, b) }}
}

// agentLine prints one line of an agent's output to w.
func (lp *logPrinter) agentLine(w io.Writer, slug string, b []byte) {
	s := string(b)
	if lp.e.isTTY {
		s = printable(s)
	}
	lp.mu.Lock()
	defer lp.mu.Unlock()
	fmt.Fprintf(w, "%s%s\n", lp.prefixes[slug], s)
}

// decision handles one line of a bundle's stdout.
func (lp *logPrinter) decision(b []byte) {
	d, ok := parseDecision(b)
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if !ok {
		lp.skipped++
		return
	}
	if !lp.o.follow {
		lp.decisions = append(lp.decisions, d)
		return
	}
	if lp.o.json {
		fmt.Fprintf(lp.e.stdout, "%s\n", d.raw)
		return
	}
	if !lp.header {
		lp.header = true
		writeRow(lp.e.stdout, decisionHeader, lp.widths, nil)
	}
	writeRow(lp.e.stdout, d.cells(), lp.widths, lp.paints(d))
}

// note prints one line about the run on stderr; the caller holds
// lp.mu, or no other goroutine prints.
func (lp *logPrinter) note(format string, args ...any) {
	fmt.Fprintf(lp.e.stderr, "bottleplan logs: "+format+"\n", args...)
}

// finish prints what was kept for the end: the sorted decisions without
// -f, and the count of skipped lines.
func (lp *logPrinter) finish() {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if !lp.o.follow && lp.o.decisions {
		sort.SliceStable(lp.decisions, func(i, j int) bool { return lp.decisions[i].Time.Before(lp.decisions[j].Time) })
		if lp.o.json {
			w := bufio.NewWriter(lp.e.stdout)
			for _, d := range lp.decisions {
				w.Write(d.raw)
				w.WriteByte('\n')
			}
			w.Flush()
		} else if len(lp.decisions) > 0 {
			rows := [][]string{decisionHeader}
			for _, d := range lp.decisions {
				rows = append(rows, d.cells())
			}
			widths := columnWidths(rows)
			w := bufio.NewWriter(lp.e.stdout)
			writeRow(w, decisionHeader, widths, nil)
			for i, d := range lp.decisions {
				writeRow(w, rows[i+1], widths, lp.paints(d))
			}
			w.Flush()
		}
	}
	if lp.skipped > 0 {
		fmt.Fprintf(lp.e.stderr, "bottleplan logs: skipped %d line(s) of the bundle's stdout that are not decisions\n", lp.skipped)
	}
}

// maxLogLine bounds one line kept in memory: a longer one is printed in
// pieces of this size (the Engine's json-file driver splits at 16 KiB
// already; this holds whatever a backend gives).
const maxLogLine = 1 << 20

// lineWriter cuts what is written to it into lines (without their
// newline) and hands each to line; Close hands over the last, unended
// one.
type lineWriter struct {
	line func([]byte)
	buf  []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			for len(w.buf) >= maxLogLine {
				w.line(w.buf[:maxLogLine])
				w.buf = append(w.buf[:0], w.buf[maxLogLine:]...)
			}
			break
		}
		w.buf = append(w.buf, p[:i]...)
		w.line(w.buf)
		w.buf = w.buf[:0]
		p = p[i+1:]
	}
	return n, nil
}

// Close hands over a last line that had no newline.
func (w *lineWriter) Close() error {
	if len(w.buf) > 0 {
		w.line(w.buf)
		w.buf = nil
	}
	return nil
}
