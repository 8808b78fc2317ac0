package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
)

// TestMain lets testscript run this binary's Main as the "bottleplan"
// command inside scripts, in a child process.
func TestMain(m *testing.M) {
	testscript.Main(dockertest.Wrap(m), map[string]func(){
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
		Cmds:          scriptCmds,
		Setup: func(env *testscript.Env) error {
			// Scripts must not depend on the caller's colour settings.
			env.Setenv("NO_COLOR", "1")
			return nil
		},
	})
}
