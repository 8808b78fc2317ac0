package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

// fakeSupervisor holds pending items per instance in memory.
type fakeSupervisor struct {
	mu      sync.Mutex
	items   map[string][]executor.PendingItem
	fail    map[string]error
	decided []string
}

func (f *fakeSupervisor) PendingItems(_ context.Context, in *plan.Instance) ([]executor.PendingItem, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail[in.Slug]; err != nil {
		return nil, err
	}
	return append([]executor.PendingItem(nil), f.items[in.Slug]...), nil
}
func (f *fakeSupervisor) add(slug string, it executor.PendingItem) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items[slug] = append(f.items[slug], it)
}
func (f *fakeSupervisor) Decide(_ context.Context, in *plan.Instance, id string, approve bool, reason string) error {
	f.decided = append(f.decided, in.Slug+" "+id+" "+map[bool]string{true: "approve", false: "deny"}[approve]+" "+reason)
	return nil
}
func (f *fakeSupervisor) Answer(_ context.Context, in *plan.Instance, id, text string) error {
	f.decided = append(f.decided, in.Slug+" "+id+" answer "+text)
	return nil
}
func (f *fakeSupervisor) Grants(context.Context, *plan.Instance) ([]executor.Grant, error) {
	return nil, nil
}
func (f *fakeSupervisor) RevokeGrants(context.Context, *plan.Instance) (int, error) { return 0, nil }

func twoSupervised() []*plan.Instance {
	return []*plan.Instance{{Slug: "one"}, {Slug: "two"}}
}

// TestSuperviseWatch: --watch prints the items pending at the start and
// then each new one once, as plain lines on a non-terminal (no header,
// no escape sequence, even from a question that carries one); a failing
// poll after the first is one line on stderr; cancelling the context
// (Ctrl-C in Main) ends it with nil. With --json every line is a JSON
// object.
func TestSuperviseWatch(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		created := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
		f := &fakeSupervisor{items: map[string][]executor.PendingItem{
			"one": {{ID: "h1", Kind: executor.ItemHeld, Created: created, Method: "POST", Host: "api.example.com", Path: "/v1/x", Reason: "path not allowed"}},
		}}
		ctx, cancel := context.WithCancel(context.Background())
		stdout, stderr := &syncBuffer{}, &syncBuffer{}
		e := &env{ctx: ctx, stdout: stdout, stderr: stderr, getenv: func(string) string { return "" }}
		done := make(chan error, 1)
		go func() {
			done <- watchItems(e, f, twoSupervised(), superviseOpts{json: asJSON, poll: 10 * time.Millisecond})
		}()
		waitFor := func(n int) {
			t.Helper()
			for deadline := time.Now().Add(10 * time.Second); strings.Count(stdout.String(), "\n") < n; {
				if time.Now().After(deadline) {
					t.Fatalf("watch printed %q, want %d lines", stdout.String(), n)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		waitFor(1)
		f.add("two", executor.PendingItem{ID: "q1", Kind: executor.ItemQuestion, Created: created, Question: "may I \x1b]52;c;aGk=\x07 push?"})
		waitFor(2)
		f.mu.Lock()
		f.fail = map[string]error{"one": errors.New("bundle gone")}
		f.mu.Unlock()
		f.add("two", executor.PendingItem{ID: "a1", Kind: executor.ItemAccess, Created: created, Host: "pypi.org:443", Reason: "install deps"})
		waitFor(3)
		time.Sleep(50 * time.Millisecond) // more polls: nothing printed twice
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("watch after cancel: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("watch still running after cancel")
		}
		out := stdout.String()
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("json=%v: %d lines, want 3 (each item once):\n%s", asJSON, len(lines), out)
		}
		if strings.ContainsRune(out, '\x1b') || strings.ContainsRune(out, '\x07') {
			t.Errorf("json=%v: control characters reached the output: %q", asJSON, out)
		}
		if n := strings.Count(stderr.String(), "bundle gone"); n != 1 {
			t.Errorf("json=%v: the failing poll was reported %d times, want once: %q", asJSON, n, stderr.String())
		}
		if asJSON {
			for i, id := range []string{"h1", "q1", "a1"} {
				var it listedItem
				if err := json.Unmarshal([]byte(lines[i]), &it); err != nil || it.ID != id {
					t.Errorf("line %d: %v %+v", i, err, it)
				}
			}
			continue
		}
		want := []string{
			"2026-12-01T22:00:00Z  one  h1  held request  POST api.example.com/v1/x (path not allowed)",
			`2026-12-01T22:00:00Z  two  q1  question  may I \x1b]52;c;aGk=\a push?`,
			"2026-12-01T22:00:00Z  two  a1  access request  access to pypi.org:443: install deps",
		}
		for i := range want {
			if lines[i] != want[i] {
				t.Errorf("line %d:\n got %q\nwant %q", i, lines[i], want[i])
			}
		}
	}
}

// TestSuperviseDecideLooksUpTheID: an ID is found on whichever instance
// holds it; a verb that does not fit its kind decides nothing; an
// unknown ID names the instances asked.
func TestSuperviseDecideLooksUpTheID(t *testing.T) {
	f := &fakeSupervisor{items: map[string][]executor.PendingItem{
		"one": {{ID: "h1", Kind: executor.ItemHeld}},
		"two": {{ID: "q1", Kind: executor.ItemQuestion}, {ID: "a1", Kind: executor.ItemAccess}},
	}}
	tests := []struct {
		a       superviseAction
		out     string
		errWant string
	}{
		{a: superviseAction{verb: "approve", id: "a1"}, out: "approved access request a1 on two\n"},
		{a: superviseAction{verb: "deny", id: "h1"}, out: "denied held request h1 on one\n"},
		{a: superviseAction{verb: "answer", id: "q1", text: "yes"}, out: "answered question q1 on two\n"},
		{a: superviseAction{verb: "answer", id: "h1", text: "yes"}, errWant: "h1 is a held request, not a question: approve or deny it (bottleplan supervise plan.json approve h1)"},
		{a: superviseAction{verb: "approve", id: "q1"}, errWant: "q1 is a question: answer it (bottleplan supervise plan.json answer q1 TEXT)"},
		{a: superviseAction{verb: "deny", id: "nope"}, errWant: `no pending item "nope" in one, two (it was decided`},
	}
	for _, tc := range tests {
		var stdout strings.Builder
		e := &env{ctx: context.Background(), stdout: &stdout}
		err := decideItem(e, f, twoSupervised(), "plan.json", tc.a, "why")
		switch {
		case tc.errWant != "" && (err == nil || !strings.Contains(err.Error(), tc.errWant)):
			t.Errorf("%+v: error %v, want %q", tc.a, err, tc.errWant)
		case tc.errWant == "" && (err != nil || stdout.String() != tc.out):
			t.Errorf("%+v: %v %q, want %q", tc.a, err, stdout.String(), tc.out)
		}
	}
	want := []string{"two a1 approve why", "one h1 deny why", "two q1 answer yes"}
	if strings.Join(f.decided, "|") != strings.Join(want, "|") {
		t.Errorf("decided %q, want %q", f.decided, want)
	}
}
