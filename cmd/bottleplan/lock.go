package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// stateDir is where bottleplan keeps per-project lock files:
// $XDG_STATE_HOME/bottleplan, else ~/.local/state/bottleplan. It holds
// nothing secret (lock files with a pid) and nothing that is state:
// labels on the live resources are the state.
func stateDir(e *env) (string, error) {
	if d := e.getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "bottleplan"), nil
	}
	home := e.getenv("HOME")
	if home == "" {
		return "", errors.New("cannot find a state directory for the lock file: set XDG_STATE_HOME or HOME")
	}
	return filepath.Join(home, ".local", "state", "bottleplan"), nil
}

// lockPoll is how often a waiting command retries the lock.
const lockPoll = 100 * time.Millisecond

// lockProject takes the project's lock (flock on <state>/<project>.lock)
// so two applies or destroys of one project never interleave. When
// another holds it, it says so on stderr and waits up to timeout (0:
// fail at once). The lock goes with the process, so a killed apply never
// leaves it held.
func lockProject(e *env, project string, timeout time.Duration) (unlock func(), err error) {
	dir, err := stateDir(e)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	path := filepath.Join(dir, project+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	deadline := time.Now().Add(timeout)
	waiting := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !time.Now().Before(deadline) {
			f.Close()
			return nil, fmt.Errorf("project %q is locked by another apply or destroy (%s); try again when it is done, or raise --lock-timeout", project, path)
		}
		if !waiting {
			waiting = true
			fmt.Fprintf(e.stderr, "Waiting for another apply or destroy of project %q to finish (lock %s)...\n", project, path)
		}
		select {
		case <-e.ctx.Done():
			f.Close()
			return nil, e.ctx.Err()
		case <-time.After(lockPoll):
		}
	}
	// The pid is for a person wondering who holds the lock.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
