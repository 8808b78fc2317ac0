package main

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/bottleplan/bottleplan/executor/docker"
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
		Condition:     scriptCondition,
		Setup: func(env *testscript.Env) error {
			// Scripts must not depend on the caller's colour settings.
			env.Setenv("NO_COLOR", "1")
			return nil
		},
	})
}

// scriptCondition adds [engine]: the Docker Engine answers, or
// BOTTLEPLAN_REQUIRE_DOCKER=1 says it must (so a script that needs it
// fails rather than skips).
func scriptCondition(cond string) (bool, error) {
	if cond != "engine" {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	if os.Getenv("BOTTLEPLAN_REQUIRE_DOCKER") == "1" {
		return true, nil
	}
	c, err := docker.Connect()
	if err != nil {
		return false, nil
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.Ping(ctx)
	return err == nil, nil
}
