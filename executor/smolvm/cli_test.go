package smolvm

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recordedCLI is testdata/smolvm-cli.json: smolvm's argument definitions
// and JSON shapes, per tag, as read from its source (docs/smolvm.md says
// how). It is the reference both the fake and the argv builders are held
// to.
type recordedCLI struct {
	Tags map[string]recordedTag `json:"tags"`
}

type recordedTag struct {
	VersionOutput string `json:"version_output"`
	Commands      map[string]struct {
		Source string   `json:"source"`
		Args   []string `json:"args"`
	} `json:"commands"`
	JSON map[string]struct {
		Source string   `json:"source"`
		Keys   []string `json:"keys"`
	} `json:"json"`
	Values map[string]struct {
		Source string   `json:"source"`
		Values []string `json:"values"`
	} `json:"values"`
}

func loadRecorded(t *testing.T) recordedCLI {
	t.Helper()
	b, err := os.ReadFile("testdata/smolvm-cli.json")
	if err != nil {
		t.Fatal(err)
	}
	var r recordedCLI
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// fakeTag is the tag whose CLI the fake answers.
const fakeTag = "v1.9.3"

// runFake runs the fake smolvm with args and returns stdout, stderr and
// the exit code.
func runFake(t *testing.T, w *world, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command("smolvm", args...)
	cmd.Env = w.runner().environ()
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// helpArgs reads clap-style --help output back into the recorded
// notation.
func helpArgs(help string) []string {
	var out []string
	section := ""
	for _, line := range strings.Split(help, "\n") {
		switch {
		case strings.HasSuffix(line, ":") && !strings.HasPrefix(line, " "):
			section = line
			continue
		case strings.TrimSpace(line) == "":
			continue
		}
		f := strings.Fields(line)
		switch section {
		case "Arguments:":
			if n, ok := strings.CutSuffix(f[0], "..."); ok {
				out = append(out, "command:"+strings.Trim(n, "[]<>"))
			} else {
				out = append(out, "pos:"+strings.Trim(f[0], "<>"))
			}
		case "Options:":
			var names []string
			value := false
			for _, w := range f {
				switch {
				case strings.HasPrefix(w, "<"):
					value = true
				case strings.HasPrefix(w, "-"):
					names = append(names, strings.TrimSuffix(w, ","))
				}
			}
			if slices.Contains(names, "--help") {
				continue
			}
			s := strings.Join(names, ",")
			if value {
				s += "="
			}
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// TestFakeMatchesRecordedCLI: the fake's --help of every subcommand lists
// exactly the recorded visible arguments of the release it claims, every
// recorded argument (hidden ones too) is known to it, and an argument
// smolvm does not define is a usage error, as clap makes it.
func TestFakeMatchesRecordedCLI(t *testing.T) {
	rec := loadRecorded(t).Tags[fakeTag]
	w := newWorld(t)
	out, _, _ := runFake(t, w, "--version")
	if strings.TrimSpace(out) != rec.VersionOutput {
		t.Errorf("fake --version = %q, want %q", out, rec.VersionOutput)
	}
	for verb, c := range rec.Commands {
		t.Run(strings.ReplaceAll(verb, " ", "_"), func(t *testing.T) {
			help, errOut, code := runFake(t, w, append(strings.Fields(verb), "--help")...)
			if code != 0 {
				t.Fatalf("%s --help: exit %d: %s", verb, code, errOut)
			}
			var visible []string
			for _, a := range c.Args {
				if !strings.HasSuffix(a, " (hidden)") {
					visible = append(visible, a)
				}
			}
			sort.Strings(visible)
			if d := cmp.Diff(visible, helpArgs(help)); d != "" {
				t.Errorf("fake `%s --help` vs %s at %s (-recorded +fake):\n%s", verb, c.Source, fakeTag, d)
			}
			for _, a := range c.Args {
				if strings.Contains(a, ":") {
					continue
				}
				a = strings.TrimSuffix(a, " (hidden)")
				name := strings.TrimSuffix(a[strings.LastIndex(a, ",")+1:], "=")
				args := append(strings.Fields(verb), name)
				if strings.HasSuffix(a, "=") {
					args = append(args, "x")
				}
				if _, errOut, code := runFake(t, w, args...); code == 2 && strings.Contains(errOut, "unexpected argument") {
					t.Errorf("fake rejects %s's recorded argument %s as unknown: %s", verb, name, errOut)
				}
			}
			if _, errOut, code := runFake(t, w, append(strings.Fields(verb), "--allowed-cidrs", "x")...); code != 2 || !strings.Contains(errOut, "unexpected argument") {
				t.Errorf("fake `%s` accepts an argument smolvm does not define (exit %d, want 2): %s", verb, code, errOut)
			}
		})
	}
}

// argvChecker checks argv against one tag's recorded definitions.
type argvChecker struct {
	rec recordedTag
}

// check returns what in args the recorded CLI does not accept.
func (c argvChecker) check(args []string) []string {
	if len(args) == 1 && args[0] == "--version" {
		return nil
	}
	if len(args) < 2 {
		return []string{"no subcommand in " + strings.Join(args, " ")}
	}
	verb := args[0] + " " + args[1]
	cmd, ok := c.rec.Commands[verb]
	if !ok {
		return []string{"unrecorded subcommand " + verb}
	}
	defs := map[string]bool{} // flag -> takes a value
	npos, command := 0, false
	for _, a := range cmd.Args {
		a = strings.TrimSuffix(a, " (hidden)")
		switch {
		case strings.HasPrefix(a, "pos:"):
			npos++
		case strings.HasPrefix(a, "command:"):
			command = true
		default:
			value := strings.HasSuffix(a, "=")
			for _, n := range strings.Split(strings.TrimSuffix(a, "="), ",") {
				defs[n] = value
			}
		}
	}
	var bad []string
	pos := 0
	for i := 2; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if !command {
				bad = append(bad, verb+" takes no command after --")
			}
			break
		}
		if strings.HasPrefix(a, "-") {
			value, ok := defs[a]
			if !ok {
				bad = append(bad, verb+" has no "+a)
				continue
			}
			if value {
				if i+1 >= len(args) {
					bad = append(bad, verb+" "+a+" lacks its value")
				}
				if vals, ok := c.rec.Values[a]; ok && i+1 < len(args) && !slices.Contains(vals.Values, args[i+1]) {
					bad = append(bad, verb+" "+a+" "+args[i+1]+" is not one of "+strings.Join(vals.Values, ", "))
				}
				i++
			}
			continue
		}
		pos++
		if pos > npos {
			bad = append(bad, verb+" takes no positional "+a)
		}
	}
	return bad
}

// TestArgvMatchesRecordedCLI: every command the backend builds, in every
// row of the version table, is accepted by the recorded CLI of each tag
// the row was checked against.
func TestArgvMatchesRecordedCLI(t *testing.T) {
	recs := loadRecorded(t)
	s := testSpec(t, "alpha")
	for _, r := range releases {
		sp := r.Spelling
		var cmds []Command
		cmds = append(cmds, versionCmd())
		cmds = append(cmds, commandsFor(sp, "/cache", s, &Machine{Name: s.Name, State: sp.StateRunning}, Decision{Action: ActionReplace}, false)...)
		cmds = append(cmds, markerProbeCmd(sp, s.Name), InteractiveCmd(sp, s.Name, true, []string{"sh"}), InteractiveCmd(sp, s.Name, false, []string{"ls"}))
		for _, tag := range r.Checked {
			rec, ok := recs.Tags[tag]
			if !ok {
				t.Errorf("row from %v was checked against %s, which testdata/smolvm-cli.json does not record", r.Min, tag)
				continue
			}
			v, err := ParseVersion(rec.VersionOutput)
			if err != nil || v.less(r.Min) || !v.less(r.Below) {
				t.Errorf("%s (%q) is outside its row %v..%v: %v", tag, rec.VersionOutput, r.Min, r.Below, err)
			}
			c := argvChecker{rec}
			for _, cmd := range cmds {
				for _, b := range c.check(cmd.Args) {
					t.Errorf("%s: `%s`: %s", tag, cmd.Render(), b)
				}
			}
			for field, key := range map[string]string{"LsNetwork": sp.LsNetwork, "LsLabels": sp.LsLabels, "LsState": sp.LsState} {
				if !slices.Contains(rec.JSON["machine ls --json"].Keys, key) {
					t.Errorf("%s: `machine ls --json` has no key %q (%s)", tag, key, field)
				}
			}
			if !slices.Contains(rec.Values["state"].Values, sp.StateRunning) {
				t.Errorf("%s: no state %q", tag, sp.StateRunning)
			}
		}
	}
	// The checker itself rejects what smolvm does not define.
	c := argvChecker{recs.Tags[fakeTag]}
	for _, bad := range [][]string{
		{"pack", "create", "--image", "x.tar", "--allowed-cidrs", "y"},
		{"machine", "exec", "-n", "m", "--", "true"},
		{"machine", "create", "--name", "m", "--net-backend", "slirp"},
		{"machine", "cp", "a", "b", "c"},
	} {
		if len(c.check(bad)) == 0 {
			t.Errorf("checker accepts %v", bad)
		}
	}
}

// TestFakeJSONShapes: the fake prints the recorded keys of `machine ls
// --json` and `machine egress-events --json`, no more, no fewer.
func TestFakeJSONShapes(t *testing.T) {
	rec := loadRecorded(t).Tags[fakeTag]
	w := newWorld(t)
	w.modes = map[string]string{"FAKESMOLVM_DNS_OPEN": "1"} // the egress check fails, leaving a denial
	s := testSpec(t, "alpha")
	if _, err := w.open().Apply(context.Background(), s, testValues()); err == nil {
		t.Fatal("apply succeeded with DNS open")
	}
	b := w.open()
	if err := b.Create(context.Background(), s, "./testdata/agent.tar"); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ProbeEgress(context.Background(), s, true); err != nil {
		t.Fatal(err)
	}
	keys := func(out string) []string {
		var objs []map[string]any
		if err := json.Unmarshal([]byte(out), &objs); err != nil || len(objs) == 0 {
			t.Fatalf("not a non-empty JSON array (%v): %s", err, out)
		}
		var ks []string
		for k := range objs[0] {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	out, _, _ := runFake(t, w, "machine", "ls", "--json")
	if d := cmp.Diff(rec.JSON["machine ls --json"].Keys, keys(out)); d != "" {
		t.Errorf("`machine ls --json` keys (-recorded +fake):\n%s", d)
	}
	out, _, _ = runFake(t, w, "machine", "egress-events", "--name", s.Name, "--json")
	if d := cmp.Diff(rec.JSON["machine egress-events --json"].Keys, keys(out)); d != "" {
		t.Errorf("`machine egress-events --json` keys (-recorded +fake):\n%s", d)
	}
}
