package plan

import (
	"fmt"
	"io"
	"strings"
)

// maxDiffValue is how many characters of a value RenderDiff shows; longer
// values (prompts, whole routes) are cut with "...". The Change keeps the
// whole value.
const maxDiffValue = 100

// RenderDiff writes changes for a reviewer: security-relevant changes
// under their own heading first, then the others, one line each:
//
//	~ implementer  bundle.proxy.routes[pypi.org].ports: [443] -> [443,8443]
//
// and a closing line with the counts, or "No changes." when there are
// none. changes must be in Diff's order.
func RenderDiff(w io.Writer, changes []Change, opts RenderOptions) error {
	c := painter(opts.Color)
	var b strings.Builder
	if len(changes) == 0 {
		b.WriteString("No changes.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	width := 0
	for _, ch := range changes {
		width = max(width, len(instanceLabel(ch)))
	}
	sec := 0
	for _, ch := range changes {
		if ch.Security {
			sec++
		}
	}
	heading := func(s string) { b.WriteString(c.paint(ansiBold, s) + "\n") }
	for i, ch := range changes {
		if i == 0 && ch.Security {
			heading("Security-relevant changes:")
		}
		if !ch.Security && (i == 0 || changes[i-1].Security) {
			if i > 0 {
				b.WriteString("\n")
			}
			heading("Other changes:")
		}
		line := fmt.Sprintf("  %s %-*s  %s", c.paint(symbolColor(ch.Kind), ch.Kind.Symbol()), width, instanceLabel(ch), changeText(ch))
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	fmt.Fprintf(&b, "\n%s, %s.\n",
		plural(sec, "security-relevant change", "security-relevant changes"),
		plural(len(changes)-sec, "other change", "other changes"))
	_, err := io.WriteString(w, b.String())
	return err
}

func instanceLabel(c Change) string {
	if c.Instance == "" {
		return "(plan)"
	}
	return c.Instance
}

func symbolColor(k ChangeKind) string {
	switch k.Symbol() {
	case "+":
		return ansiGreen
	case "-":
		return ansiRed
	}
	return ansiYellow
}

// changeText is what changed: the path (or "instance") and the values.
func changeText(c Change) string {
	switch c.Kind {
	case InstanceAdded:
		return "instance added: " + cut(c.New)
	case InstanceRemoved:
		return "instance removed: " + cut(c.Old)
	case FieldAdded:
		return c.Path + ": " + cut(c.New)
	case FieldRemoved:
		return c.Path + ": " + cut(c.Old)
	}
	return c.Path + ": " + cut(c.Old) + " -> " + cut(c.New)
}

func cut(s string) string {
	if r := []rune(s); len(r) > maxDiffValue {
		return string(r[:maxDiffValue-3]) + "..."
	}
	return s
}
