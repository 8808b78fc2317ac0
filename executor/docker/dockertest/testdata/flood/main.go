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
	HeldStatus int            `json:"held_status"`
	Sent       int64          `json:"sent"`
	Statuses   map[string]int `json:"statuses"`
	Seconds    float64        `json:"seconds"`
	// Supervise is the supervise endpoint's answer to GET /requests.
	Supervise json.RawMessage `json:"supervise"`
}

func main() {
	proxy := flag.String("proxy", "", "the bundle's proxy URL")
	held := flag.String("held", "", "an absolute URL a supervise rule holds, sent first")
	supervise := flag.String("supervise", "", "the supervise endpoint's /requests URL, read last")
	n := flag.Int("n", 100000, "denied requests to send")
	c := flag.Int("c", 16, "requests in flight")
	pathLen := flag.Int("path", 2048, "bytes of path per denied request")
	flag.Parse()
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
		code, err := get(client, held)
		if err != nil {
			return fmt.Errorf("held request: %w", err)
		}
		rep.HeldStatus = code
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
