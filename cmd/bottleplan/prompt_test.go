package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func echoOn(t *testing.T, f *os.File) bool {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&unix.ECHO != 0
}

// Ctrl-C at the y/N question returns at once, before any Enter, and
// changes nothing.
func TestConfirmInterrupted(t *testing.T) {
	r, w := io.Pipe() // nobody ever types
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out strings.Builder
	e := &env{ctx: ctx, stdin: r, stdout: &out, stderr: io.Discard, isTTY: true}
	done := make(chan error, 1)
	go func() { done <- confirm(e, bufio.NewReader(r), "Apply these changes?") }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "nothing changed") {
			t.Errorf("confirm after Ctrl-C: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("confirm still waits for Enter after Ctrl-C")
	}
	// And an answer still works.
	e.ctx = context.Background()
	if err := confirm(e, bufio.NewReader(strings.NewReader("y\n")), "Apply?"); err != nil {
		t.Errorf("confirm y: %v", err)
	}
}

// Ctrl-C at a hidden secret prompt on a real terminal returns at once
// and turns echo back on; a typed value is read with echo off.
func TestSecretPromptInterrupted(t *testing.T) {
	master, slave := openPTY(t)
	if !echoOn(t, slave) {
		t.Fatal("a new terminal should echo")
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{ctx: ctx, stdin: slave, stdout: io.Discard, stderr: io.Discard, isTTY: true}
	in := bufio.NewReader(slave)
	done := make(chan error, 1)
	go func() {
		_, err := readLine(e, in, true)
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for echoOn(t, slave) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if echoOn(t, slave) {
		t.Fatal("echo still on while the secret is typed")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("read after Ctrl-C: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("secret prompt still waits for Enter after Ctrl-C")
	}
	if !echoOn(t, slave) {
		t.Error("echo left off after Ctrl-C at the secret prompt")
	}
	// The abandoned read takes this line; that is the process ending in
	// real life. Give it one so its goroutine ends.
	master.Write([]byte("x\n"))
}

// isTerminal: a pseudo-terminal is one; a file, a pipe and /dev/null (a
// character device) are not.
func TestIsTerminal(t *testing.T) {
	_, slave := openPTY(t)
	if !isTerminal(slave) {
		t.Error("a pty is not a terminal")
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	f, err := os.CreateTemp(t.TempDir(), "f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, f := range map[string]*os.File{"/dev/null": null, "pipe": r, "file": f} {
		if isTerminal(f) {
			t.Errorf("%s counts as a terminal", name)
		}
	}
}
