package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// checkTarget proves, before anything is measured, that a mode does the
// work it is measured doing, so a fast number cannot come from a proxy
// that skipped it:
//   - the benchmark GET succeeds, and the upstream saw the route's token
//     through the bundle and no credential otherwise;
//   - through a proxy, a CONNECT to a host that is not allowed is not
//     answered 200 (127.0.0.1 at the upstream's port: reachable, so only
//     the allowlist can refuse it);
//   - through the bundle, a path outside the route's matches and a body
//     carrying a secret are refused (403).
//
// It returns the HTTP version the request reached the upstream with.
func checkTarget(t target, base string) (string, error) {
	wantAuth := "none"
	if t.mode == "bundle" {
		wantAuth = "route-token"
	}
	c := &http.Client{Transport: transport(t), Timeout: 30 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Get(base + workloads["get"].path)
	if err != nil {
		return "", fmt.Errorf("%s: GET: %w", t.mode, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: GET: %s", t.mode, resp.Status)
	}
	if got := resp.Header.Get(authSeenHeader); got != wantAuth {
		return "", fmt.Errorf("%s: upstream saw Authorization %q, want %q", t.mode, got, wantAuth)
	}
	proto := resp.Header.Get(protoSeenHeader)
	if t.proxy == nil {
		return proto, nil
	}
	_, port, _ := strings.Cut(strings.TrimPrefix(base, "https://"), ":")
	if status, err := rawConnect(t.proxy.Host, net.JoinHostPort("127.0.0.1", port)); status == "200" {
		return "", fmt.Errorf("%s: a CONNECT to a host not on the allowlist was answered 200", t.mode)
	} else if err == nil && status == "" {
		return "", fmt.Errorf("%s: no answer to a CONNECT to a host not on the allowlist", t.mode)
	}
	if t.mode != "bundle" {
		return proto, nil
	}
	refused := map[string]*http.Request{}
	refused["path outside matches"], _ = http.NewRequest(http.MethodGet, base+"/admin", nil)
	refused["body carrying a secret"], _ = http.NewRequest(http.MethodPost, base+workloads["post"].path,
		bytes.NewReader(append(postBody(1024), secretValue(secretCount-1)...)))
	for name, req := range refused {
		resp, err := c.Do(req)
		if err != nil {
			return "", fmt.Errorf("bundle: %s: %w", name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			return "", fmt.Errorf("bundle: %s: %s, want 403", name, resp.Status)
		}
	}
	return proto, nil
}

// rawConnect sends a CONNECT for target to the proxy and returns the
// status code of its answer ("" and the error when it closed the
// connection instead).
func rawConnect(proxyAddr, target string) (string, error) {
	conn, err := net.DialTimeout("tcp", proxyAddr, 10*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "", err
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		return "", fmt.Errorf("bad status line %q", line)
	}
	return f[1], nil
}
