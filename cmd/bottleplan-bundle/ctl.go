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
	usage: "[--socket PATH] list | approve ID [--reason R] | deny ID [--reason R]",
	short: "list, approve or deny the requests held for supervision, as JSON (the operator's side; run by bottleplan supervise)",
	flags: func(fs *flag.FlagSet) func(e *env, args []string) error {
		socket := fs.String("socket", bundle.OperatorSocket, "the operator API's unix socket")
		reason := fs.String("reason", "", "why (approve, deny); a denial's reason is told to the agent")
		return func(e *env, args []string) error {
			path, method := "", ""
			switch {
			case len(args) == 1 && args[0] == "list":
				path, method = "/held", http.MethodGet
			case len(args) == 2 && (args[0] == "approve" || args[0] == "deny"):
				path, method = "/held/"+url.PathEscape(args[1])+"/"+args[0], http.MethodPost
			case len(args) == 0:
				return usagef("missing action: list, approve ID or deny ID")
			default:
				return usagef("want list, approve ID or deny ID, got %q", args)
			}
			if method == http.MethodGet && *reason != "" {
				return usagef("--reason goes with approve or deny")
			}
			return ctl(e, *socket, method, path, *reason)
		}
	},
}

// ctlTimeout bounds one call to the operator API.
const ctlTimeout = 30 * time.Second

// ctl sends one request to the operator API and prints its JSON answer.
func ctl(e *env, socket, method, path, reason string) error {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}, Timeout: ctlTimeout}
	var body io.Reader
	if method == http.MethodPost {
		b, _ := json.Marshal(bundle.DecisionRequest{Reason: reason})
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, "http://operator"+path, body)
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
