package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/bottleplan/bottleplan/executor"
)

// How supervise shows pending items. The bundle scrubbed every string
// of secret values; the text is still the agent's (a path, a reason, a
// question), so every field is shown through printable: an item cannot
// write escape sequences to the operator's terminal.

// itemHeader names the list's columns.
var itemHeader = []string{"INSTANCE", "ID", "AGE", "KIND", "SUMMARY"}

// summary is what an item asks, in one line: the held request and why
// it was held, the host asked for and the agent's reason, or the
// question.
func summary(it executor.PendingItem) string {
	var s string
	switch it.Kind {
	case executor.ItemHeld:
		s = fmt.Sprintf("%s %s%s", it.Method, it.Host, it.Path)
		if it.Reason != "" {
			s += " (" + it.Reason + ")"
		}
	case executor.ItemAccess:
		s = "access to " + it.Host
		if it.Reason != "" {
			s += ": " + it.Reason
		}
	default:
		s = it.Question
	}
	return printable(s)
}

// kindColor is the colour of a kind on a terminal.
func kindColor(k executor.ItemKind) string {
	switch k {
	case executor.ItemHeld:
		return ansiYellow
	case executor.ItemAccess:
		return ansiCyan
	case executor.ItemQuestion:
		return ansiPurple
	}
	return ""
}

// itemCells are an item's row of the list.
func itemCells(it listedItem) []string {
	return []string{printable(it.Instance), printable(it.ID), (time.Duration(it.AgeSeconds) * time.Second).String(),
		printable(it.Kind.Noun()), summary(it.PendingItem)}
}

// colorOn says whether supervise paints: on a terminal without NO_COLOR.
func colorOn(e *env) bool { return e.isTTY && e.getenv("NO_COLOR") == "" }

// printItems writes the list as a table, or says there is nothing.
func printItems(e *env, items []listedItem) {
	if len(items) == 0 {
		fmt.Fprintln(e.stdout, "nothing pending")
		return
	}
	rows := [][]string{itemHeader}
	for _, it := range items {
		rows = append(rows, itemCells(it))
	}
	widths := columnWidths(rows)
	writeRow(e.stdout, itemHeader, widths, nil)
	for i, it := range items {
		var colors []string
		if colorOn(e) {
			colors = []string{"", "", "", kindColor(it.Kind)}
		}
		writeRow(e.stdout, rows[i+1], widths, colors)
	}
}

// writeItemsJSON writes the list as one JSON document: an array.
func writeItemsJSON(e *env, items []listedItem) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(items)
}

// itemWriter prints the items --watch finds, one line each: a JSON
// object, or the time it was created, then the list's columns but the
// age. Plain lines on a non-terminal (no colour, no redraw, no header).
type itemWriter struct {
	e     *env
	json  *json.Encoder
	color bool
}

func newItemWriter(e *env, asJSON bool) *itemWriter {
	w := &itemWriter{e: e, color: colorOn(e)}
	if asJSON {
		w.json = json.NewEncoder(e.stdout)
		w.json.SetEscapeHTML(false)
	}
	return w
}

func (w *itemWriter) write(it listedItem) error {
	if w.json != nil {
		return w.json.Encode(it)
	}
	c := itemCells(it)
	cells := []string{it.Created.UTC().Format(time.RFC3339), c[0], c[1], c[3], c[4]}
	var colors []string
	if w.color {
		colors = []string{"", "", "", kindColor(it.Kind)}
	}
	writeRow(w.e.stdout, cells, nil, colors)
	return nil
}
