// Command flood is the agent-side attacker of the bundle flood test: run
// at an instance's probe address, it sends the bundle's proxy one
// request that a supervise rule holds, then N requests the allowlist
// denies (each to its own host name, with a long path, so neither the
// log's aggregation nor its field caps alone can keep them small), then
// prints, as one JSON object on stdout, how the proxy answered and what
// the supervise endpoint lists afterwards. It is bounded: N requests,
// C at a time, each with a timeout, and it exits by itself.
package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Report is what flood prints.
type Report struct {
	HeldStatus int `json:"held_status"`
	// HeldBody is the start of the held request's answer.
	HeldBody string `json:"held_body"`
	// DecideTries is how many requests tried to decide the hold from
	// the agent's side (-decide), and DecideID the ID they used.
	DecideTries int            `json:"decide_tries"`
	DecideID    string         `json:"decide_id"`
	Sent        int64          `json:"sent"`
	Statuses    map[string]int `json:"statuses"`
	Seconds     float64        `json:"seconds"`
	// Supervise is the supervise endpoint's answer to GET /requests.
	Supervise json.RawMessage `json:"supervise"`
	// MCP is the MCP endpoint's answer to the -access tools/call.
	MCP string `json:"mcp,omitempty"`
}

func main() {
	proxy := flag.String("proxy", "", "the bundle's proxy URL")
	held := flag.String("held", "", "an absolute URL a supervise rule holds, sent first")
	supervise := flag.String("supervise", "", "the supervise endpoint's /requests URL, read last")
	n := flag.Int("n", 100000, "denied requests to send")
	c := flag.Int("c", 16, "requests in flight")
	pathLen := flag.Int("path", 2048, "bytes of path per denied request")
	heldWait := flag.Duration("held-wait", 10*time.Second, "how long the held request may take")
	insecure := flag.Bool("insecure", false, "do not verify the TLS of a held https URL (the instance CA is not in this image)")
	decide := flag.String("decide", "", "comma-separated host:port of every bundle port: while the request is held, try every method and path that might decide it, on each, directly and through the proxy")
	mcpURL := flag.String("mcp", "", "the supervise MCP URL: call request_access(-access) there, print the answer and exit")
	access := flag.String("access", "", "the host -mcp asks access to")
	flag.Parse()
	if *mcpURL != "" {
		if err := askAccess(*mcpURL, *access, *heldWait); err != nil {
			fmt.Fprintln(os.Stderr, "flood:", err)
			os.Exit(1)
		}
		return
	}
	heldOpts = heldOptions{wait: *heldWait, insecure: *insecure, decide: *decide}
	if err := run(*proxy, *held, *supervise, *n, *c, *pathLen); err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
}

func run(proxy, held, supervise string, n, c, pathLen int) error {
	pu, err := url.Parse(proxy)
	if err != nil || pu.Host == "" {
		return fmt.Errorf("-proxy %q is not a URL", proxy)
	}
	tr := &http.Transport{Proxy: http.ProxyURL(pu), MaxIdleConnsPerHost: c, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	rep := Report{Statuses: map[string]int{}}
	if held != "" {
		hc := &http.Client{Timeout: heldOpts.wait, Transport: &http.Transport{Proxy: http.ProxyURL(pu),
			TLSClientConfig: &tls.Config{InsecureSkipVerify: heldOpts.insecure}}}
		type res struct {
			code int
			body string
			err  error
		}
		done := make(chan res, 1)
		go func() {
			resp, err := hc.Get(held)
			if err != nil {
				done <- res{err: err}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			done <- res{code: resp.StatusCode, body: string(b)}
		}()
		if heldOpts.decide != "" {
			rep.DecideID, rep.DecideTries = tryDecide(client, supervise, strings.Split(heldOpts.decide, ","))
		}
		r := <-done
		if r.err != nil {
			return fmt.Errorf("held request: %w", r.err)
		}
		rep.HeldStatus, rep.HeldBody = r.code, r.body
	}
	start := time.Now()
	var next, sent atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	pad := strings.Repeat("a", pathLen)
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				u := fmt.Sprintf("http://flood-%d.denied.test/%d/%s", i, i, pad)
				code, err := get(client, u)
				key := fmt.Sprint(code)
				if err != nil {
					key = "error"
				}
				sent.Add(1)
				mu.Lock()
				rep.Statuses[key]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	rep.Sent = sent.Load()
	rep.Seconds = time.Since(start).Seconds()
	if supervise != "" {
		direct := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
		resp, err := direct.Get(supervise)
		if err != nil {
			return fmt.Errorf("read supervise list: %w", err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if err != nil {
			return fmt.Errorf("read supervise list: %w", err)
		}
		if !json.Valid(b) {
			return fmt.Errorf("supervise list is not JSON: %.200q", b)
		}
		rep.Supervise = b
	}
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// get sends one GET and returns its status, draining the body.
func get(c *http.Client, u string) (int, error) {
	resp, err := c.Get(u)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// heldOptions are the flags of the held request.
type heldOptions struct {
	wait     time.Duration
	insecure bool
	decide   string
}

var heldOpts heldOptions

// tryDecide reads the held request's ID where the agent can (the
// supervise list), then sends every method to every path an operator
// API might answer, on every bundle port, directly and through the
// proxy. It returns the ID and how many requests it sent.
func tryDecide(proxied *http.Client, supervise string, ports []string) (string, int) {
	direct := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	id := ""
	for i := 0; i < 50 && id == "" && supervise != ""; i++ {
		time.Sleep(200 * time.Millisecond)
		resp, err := direct.Get(supervise)
		if err != nil {
			continue
		}
		var l struct {
			Held []struct {
				ID string `json:"id"`
			} `json:"held"`
		}
		json.NewDecoder(resp.Body).Decode(&l)
		resp.Body.Close()
		for _, h := range l.Held {
			if h.ID != "" {
				id = h.ID
			}
		}
	}
	if id == "" {
		id = "unknown"
	}
	paths := []string{"/held/" + id + "/approve", "/held/" + id + "/deny", "/held/" + id, "/held",
		"/items/" + id + "/approve", "/items/" + id + "/deny", "/items/" + id + "/answer", "/items", "/grants",
		"/mcp/items/" + id + "/approve",
		"/requests/" + id + "/approve", "/requests/" + id, "/approve/" + id, "/approve?id=" + id,
		"/requests?approve=" + id, "/" + id, "/operator/held/" + id + "/approve"}
	methods := []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	n := 0
	for _, hp := range ports {
		for _, m := range methods {
			for _, p := range paths {
				for _, c := range []*http.Client{direct, proxied} {
					req, err := http.NewRequest(m, "http://"+hp+p, bytes.NewReader([]byte(`{"reason":"agent"}`)))
					if err != nil {
						continue
					}
					req.Header.Set("Content-Type", "application/json")
					if resp, err := c.Do(req); err == nil {
						io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
						resp.Body.Close()
					}
					n++
				}
			}
		}
	}
	return id, n
}

// askAccess calls the MCP tool request_access(host) as a bare JSON-RPC
// POST (the endpoint is stateless) and prints the answer in a Report.
func askAccess(mcpURL, host string, wait time.Duration) error {
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"request_access","arguments":{"host":%q,"reason":"the probe asks"}}}`, host)
	req, err := http.NewRequest("POST", mcpURL, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	resp, err := (&http.Client{Timeout: wait}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(Report{HeldStatus: resp.StatusCode, MCP: string(b)})
}
