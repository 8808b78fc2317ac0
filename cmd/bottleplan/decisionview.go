package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/bottleplan/bottleplan/bundle"
)

// The decision log as `logs --decisions` shows it. Its lines are the
// bundle's own (bundle.Decision, one JSON object per line on the
// bundle's stdout, kept by the Engine with log rotation): the table
// reads them with the bundle's type, --json prints them byte for byte.

// decisionLine is one line of a bundle's stdout that is a decision.
type decisionLine struct {
	bundle.Decision
	// raw is the line exactly as the bundle wrote it, without newline.
	raw []byte
}

// parseDecision reads b as a decision: a JSON object that decodes as a
// bundle.Decision with a time and a verdict. Anything else (a start-up
// message, a line cut by the log driver) is not one.
func parseDecision(b []byte) (decisionLine, bool) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '{' {
		return decisionLine{}, false
	}
	var d bundle.Decision
	if err := json.Unmarshal(t, &d); err != nil || d.Verdict == "" || d.Time.IsZero() {
		return decisionLine{}, false
	}
	return decisionLine{Decision: d, raw: bytes.Clone(b)}, true
}

// decisionHeader names the table's columns.
var decisionHeader = []string{"TIME", "INSTANCE", "VERDICT", "COUNT", "METHOD", "HOST", "PATH", "REASON"}

// cells are d's row of the table. Every field the agent could choose
// (host, path, reason) is shown with its control characters escaped, so
// a decision cannot write to the operator's terminal. COUNT is blank for
// a line that stands for one decision; an aggregated line shows how many
// it stands for (Time is then the last one's).
func (d decisionLine) cells() []string {
	host := d.Host
	if d.Port != 0 {
		host = host + ":" + strconv.Itoa(d.Port)
	}
	count := ""
	if d.Count > 0 {
		count = strconv.Itoa(d.Count)
	}
	return []string{
		d.Time.UTC().Format(time.RFC3339),
		printable(d.Instance),
		printable(d.Verdict),
		count,
		printable(d.Method),
		printable(host),
		printable(d.Path),
		printable(d.Reason),
	}
}

// ANSI escapes for the terminal.
const (
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiBlue   = "\x1b[34m"
	ansiPurple = "\x1b[35m"
	ansiCyan   = "\x1b[36m"
	ansiReset  = "\x1b[0m"
)

// instanceColors colour the instance prefixes of agent output in turn.
var instanceColors = []string{ansiCyan, ansiYellow, ansiGreen, ansiPurple, ansiBlue}

// verdictColor is the colour of a verdict in the table.
func verdictColor(v string) string {
	switch v {
	case bundle.VerdictAllow:
		return ansiGreen
	case bundle.VerdictRedact, bundle.VerdictHold:
		return ansiYellow
	case bundle.VerdictDeny, bundle.VerdictError:
		return ansiRed
	}
	return ""
}

// paints returns the colour of each of d's cells ("" for none), or nil
// when colour is off.
func (lp *logPrinter) paints(d decisionLine) []string {
	if !lp.color {
		return nil
	}
	return []string{"", "", verdictColor(d.Verdict)}
}

// paint wraps s in code when on.
func paint(on bool, code, s string) string {
	if !on || code == "" || s == "" {
		return s
	}
	return code + s + ansiReset
}

// writeRow writes cells padded to widths (the last cell unpadded), two
// spaces apart, painting cell i with colors[i]. The padding counts
// runes, before the colour is added.
func writeRow(w io.Writer, cells []string, widths []int, colors []string) {
	var b strings.Builder
	for i, c := range cells {
		if i > 0 {
			b.WriteString("  ")
		}
		pad := 0
		if i < len(cells)-1 && i < len(widths) {
			pad = widths[i] - len([]rune(c))
		}
		code := ""
		if i < len(colors) {
			code = colors[i]
		}
		b.WriteString(paint(code != "", code, c))
		if pad > 0 {
			b.WriteString(strings.Repeat(" ", pad))
		}
	}
	fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
}

// columnWidths is the widest cell of each column of rows.
func columnWidths(rows [][]string) []int {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	return widths
}

// followWidths are the column widths with -f, where rows are printed as
// they come: fixed for time, verdict, count and method, the longest slug
// for the instance, none for the rest.
func followWidths(slugWidth int) []int {
	return []int{len("2006-01-02T15:04:05Z"), max(slugWidth, len("INSTANCE")), len("VERDICT"), len("COUNT"), len("CONNECT")}
}

// printable returns s with every control character but tab (C0, DEL,
// C1, and so ANSI escape sequences) replaced by its Go escape, so text
// the agent chose cannot move the cursor, retitle the window or write
// the clipboard of the operator's terminal.
func printable(s string) string {
	if strings.IndexFunc(s, isControl) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isControl reports the runes printable escapes: control characters
// (but tab), format characters (bidirectional overrides and isolates,
// zero-width spaces and joiners, the soft hyphen, BOMs) and the line and
// paragraph separators. Each would let text the agent chose reorder,
// hide or break what the operator reads.
func isControl(r rune) bool {
	if r == '\t' {
		return false
	}
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.In(r, unicode.Zl, unicode.Zp)
}
