// Command mcpagent is the agent's side of a supervised bottle in the
// tests: it calls one tool of the bundle's MCP endpoint with the
// official go-sdk client, as a coding agent would, and, for
// request_access, sends an HTTPS request to the host through the proxy
// before and after, verifying TLS against the instance CA it is given.
// It prints one JSON report on stdout and exits 0, or exits 1 when it
// could not run.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// report is what the test reads.
type report struct {
	BeforeStatus int    `json:"before_status"`
	BeforeBody   string `json:"before_body"`
	// ToolError is the tool result's IsError; Outcome and Text its
	// structured content (approved, denied, answered, timed_out).
	ToolError bool   `json:"tool_error"`
	Outcome   string `json:"outcome"`
	Text      string `json:"text"`
	ToolBody  string `json:"tool_body"`
	// After is the request once the tool returned.
	AfterStatus int    `json:"after_status"`
	AfterBody   string `json:"after_body"`
	AfterError  string `json:"after_error"`
}

func main() {
	endpoint := flag.String("mcp", "", "the supervise URL (http://bundle_ip:9090/mcp)")
	proxy := flag.String("proxy", "", "the bundle's proxy URL")
	host := flag.String("access", "", "call request_access for this host, and GET https://host/ through the proxy before and after")
	reason := flag.String("reason", "the tests need it", "request_access's reason")
	question := flag.String("ask", "", "call ask_operator with this question instead")
	caB64 := flag.String("ca", "", "the instance CA certificate, PEM, base64")
	wait := flag.Duration("wait", 2*time.Minute, "how long the tool may take")
	flag.Parse()
	if err := run(*endpoint, *proxy, *host, *reason, *question, *caB64, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "mcpagent:", err)
		os.Exit(1)
	}
}

func run(endpoint, proxy, host, reason, question, caB64 string, wait time.Duration) error {
	var rep report
	var get func() (int, string, error)
	if host != "" {
		pem, err := base64.StdEncoding.DecodeString(caB64)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("-ca holds no certificate")
		}
		pu, err := url.Parse(proxy)
		if err != nil {
			return err
		}
		c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: pool}}}
		get = func() (int, string, error) {
			resp, err := c.Get("https://" + host + "/granted")
			if err != nil {
				return 0, "", err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			return resp.StatusCode, string(b), nil
		}
		code, body, err := get()
		if err != nil {
			body = err.Error()
		}
		rep.BeforeStatus, rep.BeforeBody = code, body
	}

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpagent", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: &http.Client{}}, nil)
	if err != nil {
		return fmt.Errorf("connect %s: %w", endpoint, err)
	}
	defer cs.Close()
	params := &mcp.CallToolParams{Name: "request_access", Arguments: map[string]any{"host": host, "reason": reason}}
	if question != "" {
		params = &mcp.CallToolParams{Name: "ask_operator", Arguments: map[string]any{"question": question}}
	}
	res, err := cs.CallTool(ctx, params)
	if err != nil {
		return fmt.Errorf("call %s: %w", params.Name, err)
	}
	rep.ToolError = res.IsError
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			rep.ToolBody += t.Text
		}
	}
	if res.StructuredContent != nil {
		b, _ := json.Marshal(res.StructuredContent)
		var out struct {
			Outcome string `json:"outcome"`
			Text    string `json:"text"`
		}
		json.Unmarshal(b, &out)
		rep.Outcome, rep.Text = out.Outcome, out.Text
	}
	if get != nil {
		code, body, err := get()
		if err != nil {
			rep.AfterError = err.Error()
		}
		rep.AfterStatus, rep.AfterBody = code, body
	}
	return json.NewEncoder(os.Stdout).Encode(rep)
}
