package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript run this binary's Main as the
// "bottleplan-bundle" command inside scripts, in a child process.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"bottleplan-bundle": func() { os.Exit(Main()) },
	})
}

// TestScripts runs the scripts in testdata/script/bottleplan-bundle
// (txtar files named <subcommand>_<topic>.txtar). BOTTLEPLAN_UPDATE=1
// rewrites their golden sections.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "../../testdata/script/bottleplan-bundle",
		UpdateScripts: os.Getenv("BOTTLEPLAN_UPDATE") == "1",
	})
}
