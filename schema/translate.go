package schema

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"
)

// cueErrors turns the evaluator's errors for the value d (data at parent,
// unified with a schema definition) into plain-worded Errors and returns
// the names of the first fields under d that hold errors ("" for d).
//
// CUE reports a failed choice as a header plus one "conflicting values"
// line per alternative; those are folded into one "is not one of". A
// "field not allowed" or "field is required but not present" is dropped
// only when another error was already reported at its path (the loader's
// own key walk reports unknown fields with a hint, and missing required
// fields, even in structs that have other errors) or sits beside it in
// its group; otherwise it comes from closedness or a required field the
// manifest wrote itself and is reported (see closedWords, requiredWords).
func (l *loader) cueErrors(err error, parent []cue.Selector, d cue.Value) map[string]bool {
	type group struct {
		rel  []cue.Selector
		errs []errors.Error
	}
	var order []string
	groups := map[string]*group{}
	for _, e := range errors.Errors(err) {
		rel := relPath(e.Path())
		key := renderPath(rel)
		g := groups[key]
		if g == nil {
			g = &group{rel: rel}
			groups[key] = g
			order = append(order, key)
		}
		g.errs = append(g.errs, e)
	}
	bad := map[string]bool{}
	for _, key := range order {
		g := groups[key]
		if onlyMissing(g.errs) && len(g.rel) > 0 {
			// The field as written is whole, it only lacks a member:
			// decodePartial reads it from the data, so the Go rules
			// still check the rest of it.
			bad[missingMark+selName(g.rel[0])] = true
		} else {
			markBad(bad, g.rel)
		}
		full := with(parent, anySels(g.rel)...)
		if e, ok := l.translate(g.errs, full, g.rel, d); ok {
			l.errs = append(l.errs, e)
		} else {
			l.dropped = append(l.dropped, l.raw(g.errs, full))
		}
	}
	return bad
}

// raw is the evaluator's own message for a group of errors that translate
// dropped, positioned at the first place in the manifest it names. Load
// reports these only when nothing else was reported (see failure), so a
// failed check is never silent.
func (l *loader) raw(errs []errors.Error, full []cue.Selector) Error {
	pos := token.NoPos
	msg := ""
	for _, e := range errs {
		format, args := e.Msg()
		if msg == "" || strings.Contains(msg, "errors in empty disjunction") {
			msg = fmt.Sprintf(format, args...)
		}
		for _, p := range errors.Positions(e) {
			if !pos.IsValid() && p.IsValid() && !l.sc.files[p.Filename()] {
				pos = p
			}
		}
	}
	if !pos.IsValid() {
		pos = l.keyPos(full)
	}
	return posError(pos, renderPath(full), stripDefs(msg))
}

// reportedAt reports whether an error was already reported at path. It
// indexes l.errs as they grow, so asking stays cheap on manifests with
// many errors.
func (l *loader) reportedAt(path string) bool {
	if l.errPaths == nil {
		l.errPaths = map[string]bool{}
	}
	for ; l.indexed < len(l.errs); l.indexed++ {
		l.errPaths[l.errs[l.indexed].Path] = true
	}
	return l.errPaths[path]
}

// markBad records where an error sits, for decodePartial: "" for the
// entry itself; the field name for anything inside a field; and one level
// deeper, field+"\x00"+member for an error inside a named member of a
// field (env."1BAD", git_gate.repos), or field+"\x00" for an error on
// the field as a whole or inside a list item, so the rest of a map can
// still be decoded and checked.
func markBad(bad map[string]bool, rel []cue.Selector) {
	if len(rel) == 0 {
		bad[""] = true
		return
	}
	field := selName(rel[0])
	bad[field] = true
	if len(rel) >= 2 && rel[1].LabelType() == cue.StringLabel {
		bad[field+"\x00"+rel[1].Unquoted()] = true
	} else {
		bad[field+"\x00"] = true
	}
}

// missingMark prefixes, in the map cueErrors returns, the name of a
// field whose only errors are required members it leaves out.
const missingMark = "\x01"

// onlyMissing reports whether every error of a group is a required field
// left out.
func onlyMissing(errs []errors.Error) bool {
	for _, e := range errs {
		if format, _ := e.Msg(); format != "field is required but not present" {
			return false
		}
	}
	return len(errs) > 0
}

func anySels(s []cue.Selector) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

// relPath converts an error path to selectors, dropping the schema
// definition it starts with (#Bottle, #Manifest, ...).
func relPath(p []string) []cue.Selector {
	var out []cue.Selector
	for i, s := range p {
		if i == 0 && strings.HasPrefix(s, "#") {
			continue
		}
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			out = append(out, cue.Index(n))
			continue
		}
		if u, err := strconv.Unquote(s); err == nil {
			s = u
		}
		out = append(out, cue.Str(s))
	}
	return out
}

var (
	reMismatch = regexp.MustCompile(`^conflicting values (.+) and (.+) \(mismatched types (\w+) and (\w+)\)$`)
	reConflict = regexp.MustCompile(`^conflicting values (.+) and (.+)$`)
	reBound    = regexp.MustCompile(`^invalid value (.+) \(out of bound (.+)\)$`)
	reIncompl  = regexp.MustCompile(`^incomplete value (.+)$`)
)

// translate words one group of errors about one path.
func (l *loader) translate(errs []errors.Error, full, rel []cue.Selector, d cue.Value) (Error, bool) {
	type item struct {
		msg    string
		user   token.Pos
		schema token.Pos
		header bool
		nUser  int
		// covered is set for "field not allowed" and "field is required
		// but not present": the key walk reports those the schema
		// causes; closed tells the first.
		covered bool
		closed  bool
	}
	var items []item
	for _, e := range errs {
		format, args := e.Msg()
		it := item{msg: fmt.Sprintf(format, args...)}
		if strings.Contains(format, "errors in empty disjunction") {
			it.header = true
		}
		if format == "field not allowed" || strings.HasPrefix(it.msg, "field not allowed") {
			it.covered, it.closed = true, true
		}
		if it.msg == "field is required but not present" {
			it.covered = true
		}
		for _, p := range errors.Positions(e) {
			if l.sc.files[p.Filename()] {
				it.schema = p
			} else if p.IsValid() {
				if !it.user.IsValid() {
					it.user = p
				}
				it.nUser++
			}
		}
		items = append(items, it)
	}
	// Keep what is not a header or an unknown field.
	var body []item
	var covered *item
	header := false
	for i, it := range items {
		switch {
		case it.header:
			header = true
		case it.covered:
			if covered == nil {
				covered = &items[i]
			}
		default:
			body = append(body, it)
		}
	}
	path := renderPath(full)
	if len(body) == 0 {
		if covered == nil || l.reportedAt(path) {
			return Error{}, false
		}
		pos := covered.user
		if !pos.IsValid() {
			pos = l.keyPos(full)
		}
		if covered.closed {
			return posError(pos, path, closedWords(full)), true
		}
		return posError(pos, path, requiredWords(full)), true
	}
	dv := d.LookupPath(cue.MakePath(rel...))
	user := ""
	if dv.Exists() && dv.IsConcrete() && dv.Err() == nil {
		user = short(dv)
	}
	pos := token.NoPos
	for _, it := range body {
		if it.user.IsValid() {
			pos = it.user
			break
		}
	}
	if !pos.IsValid() {
		pos = l.valuePos(full)
	}
	mk := func(msg string) (Error, bool) { return posError(pos, path, msg), true }

	// A failed choice: prefer a non-conflict reason (a bound), else list
	// the alternatives.
	if header || len(body) > 1 {
		var alts []item
		for _, it := range body {
			if reConflict.MatchString(it.msg) {
				alts = append(alts, it)
				continue
			}
			return mk(l.plain(it.msg, user, dv))
		}
		sort.SliceStable(alts, func(i, j int) bool {
			a, b := alts[i].schema, alts[j].schema
			if a.Line() != b.Line() {
				return a.Line() < b.Line()
			}
			return a.Column() < b.Column()
		})
		var vals []string
		seen := map[string]bool{}
		for _, it := range alts {
			m := reMismatch.FindStringSubmatch(it.msg)
			if m == nil {
				m = reConflict.FindStringSubmatch(it.msg)
			}
			alt := m[2]
			if alt == user {
				alt = m[1]
			}
			if !seen[alt] {
				seen[alt] = true
				vals = append(vals, alt)
			}
		}
		if user == "" {
			user = "the value"
		}
		return mk(fmt.Sprintf("%s is not one of %s", user, quoteList(vals)))
	}
	it := body[0]
	if it.nUser >= 2 && reConflict.MatchString(it.msg) && !reMismatch.MatchString(it.msg) {
		m := reConflict.FindStringSubmatch(it.msg)
		var also []string
		for _, p := range errors.Positions(errs[0]) {
			if p.IsValid() && !l.sc.files[p.Filename()] && p != pos {
				also = append(also, fmt.Sprintf("%s:%d:%d", p.Filename(), p.Line(), p.Column()))
			}
		}
		msg := fmt.Sprintf("conflicting values %s and %s: the files set this field differently", m[1], m[2])
		if len(also) > 0 {
			msg += " (see also " + strings.Join(also, ", ") + ")"
		}
		return mk(msg)
	}
	return mk(l.plain(it.msg, user, dv))
}

// closedWords explains a "field not allowed" that no other error covers.
// The schema's own closedness never gets here: the key walk runs before
// the schema is checked and reports each field the schema does not know
// at the same path. So a closed struct the manifest wrote itself left
// the field out.
func closedWords(full []cue.Selector) string {
	name := "the field"
	if len(full) > 0 {
		name = fmt.Sprintf("%q", selName(full[len(full)-1]))
	}
	return fmt.Sprintf("field %s is not allowed by a closed struct written in the manifest (a #definition or close()): add it to that struct or leave it out", name)
}

// requiredWords explains a "field is required but not present" that no
// other error covers: the schema's own required fields are reported by
// the key walk ("missing required field"), so the manifest marked the
// field required itself (name!: type) and never gave it a value.
func requiredWords(full []cue.Selector) string {
	name := "the field"
	if len(full) > 0 {
		name = fmt.Sprintf("%q", selName(full[len(full)-1]))
	}
	return fmt.Sprintf("field %s is marked required (!) but never given a value: give it one, or write it without the !", name)
}

// plain rewords one evaluator message.
func (l *loader) plain(msg, user string, dv cue.Value) string {
	if m := reMismatch.FindStringSubmatch(msg); m != nil {
		want := m[4]
		if dv.Exists() && dv.IncompleteKind().String() == m[4] {
			want = m[3]
		}
		return fmt.Sprintf("expected %s, got %s", kindWords(want), gotWords(user, dv))
	}
	if m := reConflict.FindStringSubmatch(msg); m != nil {
		want := m[2]
		if want == user {
			want = m[1]
		}
		if user == "" {
			return fmt.Sprintf("conflicting values %s and %s", m[1], m[2])
		}
		return fmt.Sprintf("got %s, want %s", user, want)
	}
	if m := reBound.FindStringSubmatch(msg); m != nil {
		return boundWords(m[1], m[2])
	}
	if m := reIncompl.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("value is not concrete (%s): give a plain value", m[1])
	}
	if strings.HasPrefix(msg, "incompatible list lengths") {
		return "list must not be empty"
	}
	return stripDefs(msg)
}

// boundWords explains a failed bound on val.
func boundWords(val, bound string) string {
	switch {
	case strings.HasPrefix(bound, "=~"):
		re, _ := strconv.Unquote(strings.TrimPrefix(bound, "=~"))
		if d, ok := patternWords[re]; ok {
			return fmt.Sprintf("%s is not valid: %s", val, d)
		}
		return fmt.Sprintf("%s does not match %s", val, re)
	case bound == `!=""`:
		return "must not be empty"
	case strings.HasPrefix(bound, "<="):
		return fmt.Sprintf("%s is more than the maximum %s", val, bound[2:])
	case strings.HasPrefix(bound, ">="):
		return fmt.Sprintf("%s is less than the minimum %s", val, bound[2:])
	case strings.HasPrefix(bound, "<"):
		return fmt.Sprintf("%s must be less than %s", val, bound[1:])
	case strings.HasPrefix(bound, ">"):
		return fmt.Sprintf("%s must be more than %s", val, bound[1:])
	}
	return fmt.Sprintf("%s is out of bound %s", val, bound)
}

// patternWords explains the schema's regular expressions.
var patternWords = map[string]string{
	namePattern:    nameRule,
	envNamePattern: envNameRule,
	"^/":           "must start with /",
}

const (
	namePattern    = "^[a-z][a-z0-9-]{0,39}$"
	envNamePattern = "^[A-Za-z_][A-Za-z0-9_]*$"
	nameRule       = "use lowercase letters, digits and '-', starting with a letter, at most 40 characters"
	envNameRule    = "use letters, digits and '_', not starting with a digit"
)

func kindWords(k string) string {
	switch k {
	case "struct":
		return "a mapping"
	case "list":
		return "a list"
	case "string":
		return "a string"
	case "int":
		return "an integer"
	case "number", "float":
		return "a number"
	case "bool":
		return "true or false"
	case "null":
		return "null"
	}
	return k
}

func gotWords(user string, dv cue.Value) string {
	switch dv.IncompleteKind() {
	case cue.StructKind:
		return "a mapping"
	case cue.ListKind:
		return "a list"
	}
	if user != "" {
		return user
	}
	return "another type"
}

// short renders a concrete data value for a message, cut to a readable
// length.
func short(v cue.Value) string {
	switch v.Kind() {
	case cue.StructKind:
		return "a mapping"
	case cue.ListKind:
		return "a list"
	}
	s := fmt.Sprint(v)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

var reDef = regexp.MustCompile(`#[A-Za-z]+\.`)

func stripDefs(msg string) string { return reDef.ReplaceAllString(msg, "") }
