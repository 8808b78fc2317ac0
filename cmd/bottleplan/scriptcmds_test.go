package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"

	"github.com/rogpeppe/go-internal/testscript"
)

// scriptCmds are the extra commands CLI scripts may use.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"exitcode": cmdExitCode,
	"genfile":  genfile,
}

// cmdExitCode runs a program like exec and checks its exit code:
//
//	exitcode 3 bottleplan show altered.json
//
// Its stdout and stderr are kept for the stdout/stderr/cmp commands that
// follow.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exitcode")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %q is not a number", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
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
