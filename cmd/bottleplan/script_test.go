package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript run this binary's Main as the "bottleplan"
// command inside scripts, in a child process.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"bottleplan": func() { os.Exit(Main()) },
	})
}

// TestScripts runs the CLI scripts in testdata/script (txtar files named
// <cmd>_<topic>.txtar). BOTTLEPLAN_UPDATE=1 rewrites their golden
// sections.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "../../testdata/script",
		UpdateScripts: os.Getenv("BOTTLEPLAN_UPDATE") == "1",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"genfile": genfile,
		},
		Setup: func(env *testscript.Env) error {
			// Scripts must not depend on the caller's colour settings.
			env.Setenv("NO_COLOR", "1")
			return nil
		},
	})
}

// genfile writes a generated file too large or too odd to keep in a
// txtar archive: genfile text|binary|yaml PATH SIZE. text is SIZE bytes
// of 'a'; binary cycles through every byte value; yaml is a well-formed
// manifest padded with env entries to at least SIZE bytes.
func genfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: genfile text|binary|yaml PATH SIZE")
	}
	size, err := strconv.Atoi(args[2])
	if err != nil {
		ts.Fatalf("genfile: size: %v", err)
	}
	var b bytes.Buffer
	switch args[0] {
	case "text":
		b.Write(bytes.Repeat([]byte("a"), size))
	case "binary":
		for i := 0; i < size; i++ {
			b.WriteByte(byte(i))
		}
	case "yaml":
		b.WriteString("version: 1\nbottles:\n  dev:\n    env:\n")
		for i := 0; b.Len() < size; i++ {
			fmt.Fprintf(&b, "      VAR_%d: value-%d\n", i, i)
		}
		b.WriteString("agents:\n  a: {bottle: dev}\n")
	default:
		ts.Fatalf("genfile: unknown kind %q", args[0])
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), b.Bytes(), 0o644))
}
