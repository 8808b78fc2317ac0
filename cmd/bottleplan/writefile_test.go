package main

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWriteFileAtomicKeepsSpecialFiles checks that a plan written to a
// path that is not a regular file (here a named pipe, as /dev/null is a
// device) goes through it instead of replacing it.
func TestWriteFileAtomicKeepsSpecialFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "out")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	got := make(chan []byte, 1)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- nil
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- b
	}()
	if err := writeFileAtomic(fifo, []byte("plan\n")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(fifo)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeNamedPipe == 0 {
		// The reader waits for a writer that never comes: do not wait.
		t.Fatalf("%s is now %v, want the named pipe kept", fifo, fi.Mode())
	}
	if b := <-got; string(b) != "plan\n" {
		t.Errorf("the pipe's reader got %q, want %q", b, "plan\n")
	}
}
