package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// workload is one kind of request the clients repeat.
type workload struct {
	name   string
	method string
	path   string
	body   []byte
}

// postSize is the body of the POST workload.
const postSize = 64 << 10

var workloads = map[string]workload{
	"get":  {name: "GET small", method: http.MethodGet, path: "/v1/items/42"},
	"post": {name: "POST 64 KiB", method: http.MethodPost, path: "/v1/upload", body: postBody(postSize)},
}

// postBody is a JSON document of exactly n bytes, text an agent would
// send to an API (no secret in it, so DLP scans all of it and passes it).
func postBody(n int) []byte {
	const head, tail = `{"model":"bench","messages":[{"role":"user","content":"`, `"}]}`
	const words = "the quick brown fox jumps over the lazy dog while the proxy reads every byte "
	var b bytes.Buffer
	b.WriteString(head)
	for b.Len() < n-len(tail) {
		b.WriteString(words)
	}
	b.Truncate(n - len(tail))
	b.WriteString(tail)
	return b.Bytes()
}

// target is how the clients reach the upstream: directly or through a
// proxy whose CA they trust.
type target struct {
	mode  string
	proxy *url.URL // nil: direct
	roots *x509.CertPool
}

// result is one cell: one mode, one workload, one client count.
type result struct {
	requests int
	errors   int
	firstErr string
	elapsed  time.Duration
	p50, p99 time.Duration
}

func (r result) rps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// measure runs clients keep-alive clients against base+w.path for warmup
// (not counted) and then for dur. Each client has its own Transport, so
// its own connection and TLS session, and sends one request at a time. A
// request counts when it starts inside the measured window; the window's
// length is taken until the last counted request ends.
func measure(t target, base string, w workload, clients int, warmup, dur time.Duration) result {
	start := time.Now()
	measFrom := start.Add(warmup)
	measTo := measFrom.Add(dur)
	type clientResult struct {
		lat      []time.Duration
		errors   int
		firstErr string
		end      time.Time
	}
	out := make([]clientResult, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := transport(t)
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			cr := &out[i]
			cr.lat = make([]time.Duration, 0, 4096)
			for {
				t0 := time.Now()
				if !t0.Before(measTo) {
					return
				}
				err := do(c, base, w)
				t1 := time.Now()
				if t0.Before(measFrom) {
					continue
				}
				cr.end = t1
				if err != nil {
					cr.errors++
					if cr.firstErr == "" {
						cr.firstErr = err.Error()
					}
					continue
				}
				cr.lat = append(cr.lat, t1.Sub(t0))
			}
		}()
	}
	wg.Wait()
	var r result
	var all []time.Duration
	end := measFrom
	for _, cr := range out {
		all = append(all, cr.lat...)
		r.errors += cr.errors
		if r.firstErr == "" {
			r.firstErr = cr.firstErr
		}
		if cr.end.After(end) {
			end = cr.end
		}
	}
	r.requests = len(all)
	r.elapsed = end.Sub(measFrom)
	if len(all) > 0 {
		slices.Sort(all)
		r.p50 = all[len(all)*50/100]
		r.p99 = all[len(all)*99/100]
	}
	return r
}

// transport is one client's: its own connection (HTTP/1.1, kept alive)
// and TLS session, through t's proxy when it has one.
func transport(t target) *http.Transport {
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: t.roots},
		MaxIdleConnsPerHost: 1,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}
	if t.proxy != nil {
		tr.Proxy = http.ProxyURL(t.proxy)
	}
	return tr
}

// do sends one request and reads the whole answer, which must be 200.
func do(c *http.Client, base string, w workload) error {
	var body io.Reader
	if w.body != nil {
		body = bytes.NewReader(w.body)
	}
	req, err := http.NewRequest(w.method, base+w.path, body)
	if err != nil {
		return err
	}
	if w.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %.200s", resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}
