package schema

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a manifest, at the position of the offending
// value. File is relative to the working directory given to Load; Line
// and Column are 1-based and zero when unknown; Path is the dotted path of
// the value in the unified manifest ("bottles.dev.egress.routes[0].host"),
// empty for problems with a whole file.
type Error struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Path    string `json:"path"`
	Message string `json:"message"`
	// Warning marks a lint that does not make the manifest invalid (see
	// lint.go): Load returns it in Manifest.Warnings, or as an error
	// when Options.Strict is set.
	Warning bool `json:"warning,omitempty"`
}

// Error formats e as "file:line:col: path: message", leaving out the
// parts that are unknown.
func (e Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
			if e.Column > 0 {
				fmt.Fprintf(&b, ":%d", e.Column)
			}
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Errors is every problem Load found, sorted by position. It is the error
// Load returns for a manifest that is not valid, never empty; use
// errors.As to get it.
type Errors []Error

// Error prints one error per line.
func (l Errors) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sortErrors orders errors by file, line, column, path and message and
// drops exact duplicates (CUE reports some conflicts once per side).
func sortErrors(l Errors) Errors {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Message < b.Message
	})
	out := l[:0]
	for i, e := range l {
		if i > 0 && e == l[i-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}

// suggest returns the known name closest to name, or "" when none is
// close enough to be a likely typo.
func suggest(name string, known []string) string {
	best, bestD := "", len(name)/2+1
	if bestD > 3 {
		bestD = 3
	}
	for _, k := range known {
		d := editDistance(strings.ToLower(name), k)
		if d <= bestD && (best == "" || d < editDistance(strings.ToLower(name), best)) {
			best = k
		}
	}
	return best
}

// EditDistance is the Levenshtein distance between a and b (large past
// 64 bytes), for "did you mean" suggestions outside this package (the
// CLI's flags).
func EditDistance(a, b string) int { return editDistance(a, b) }

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// quoteList renders values as `"a", "b"`.
func quoteList(vals []string) string {
	return strings.Join(vals, ", ")
}
