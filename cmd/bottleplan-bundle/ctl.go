package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bottleplan/bottleplan/bundle"
)

// ctlCommand talks to the bundle's operator API on its unix socket. The
// host runs it in the bundle container through the Engine's exec API
// (`bottleplan supervise`); the agent, another container, cannot.
var ctlCommand = &subcommand{
	usage: "[--socket PATH] list | approve ID [--reason R] | deny ID [--reason R] | answer ID TEXT | grants | revoke-grants",
	short: "list and decide the items waiting for the operator, list or revoke runtime grants, as JSON (the operator's side; run by bottleplan supervise)",
	flags: func(fs *flag.FlagSet) func(e *env, args []string) error {
		socket := fs.String("socket", bundle.OperatorSocket, "the operator API's unix socket")
		reason := fs.String("reason", "", "why (approve, deny); it is told to the agent")
		return func(e *env, args []string) error {
			req, err := ctlRequest(args, *reason)
			if err != nil {
				return err
			}
			return ctl(e, *socket, req)
		}
	},
}

// ctlCall is one operator API request.
type ctlCall struct {
	method, path string
	body         any
}

// ctlRequest maps a ctl verb and its arguments onto the operator API.
func ctlRequest(args []string, reason string) (ctlCall, error) {
	const want = "list, approve ID, deny ID, answer ID TEXT, grants or revoke-grants"
	if len(args) == 0 {
		return ctlCall{}, usagef("missing action: %s", want)
	}
	verb := args[0]
	if reason != "" && verb != "approve" && verb != "deny" {
		return ctlCall{}, usagef("--reason goes with approve or deny")
	}
	item := func(id, action string) string { return "/items/" + url.PathEscape(id) + "/" + action }
	switch {
	case verb == "list" && len(args) == 1:
		return ctlCall{http.MethodGet, "/items", nil}, nil
	case (verb == "approve" || verb == "deny") && len(args) == 2:
		return ctlCall{http.MethodPost, item(args[1], verb), bundle.DecisionRequest{Reason: reason}}, nil
	case verb == "answer" && len(args) == 3:
		return ctlCall{http.MethodPost, item(args[1], verb), bundle.AnswerRequest{Text: args[2]}}, nil
	case verb == "grants" && len(args) == 1:
		return ctlCall{http.MethodGet, "/grants", nil}, nil
	case verb == "revoke-grants" && len(args) == 1:
		return ctlCall{http.MethodDelete, "/grants", nil}, nil
	}
	return ctlCall{}, usagef("want %s, got %q", want, args)
}

// ctlTimeout bounds one call to the operator API.
const ctlTimeout = 30 * time.Second

// ctl sends one request to the operator API and prints its JSON answer.
func ctl(e *env, socket string, c ctlCall) error {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}, Timeout: ctlTimeout}
	var body io.Reader
	if c.body != nil {
		b, _ := json.Marshal(c.body)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(e.ctx, c.method, "http://operator"+c.path, body)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("operator API at %s: %w (is supervise on for this bottle?)", socket, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("operator API: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var oe bundle.OperatorError
		if json.Unmarshal(out, &oe) == nil && oe.Error != "" {
			return fmt.Errorf("%s", oe.Error)
		}
		return fmt.Errorf("operator API: %s: %s", resp.Status, strings.TrimSpace(string(out)))
	}
	_, err = e.stdout.Write(out)
	return err
}
