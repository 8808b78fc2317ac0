package main

import (
	_ "embed"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// allowlistAddon is the mitmdump addon: kill flows to hosts not listed.
//
//go:embed allowlist.py
var allowlistAddon []byte

// mitmdumpStartTimeout bounds how long mitmdump may take to write its
// CA and listen (Python start-up is slow on a busy machine).
const mitmdumpStartTimeout = 60 * time.Second

// startMitmdump runs mitmdump on a free loopback port with the allowlist
// addon allowing routeHost only, its config (and generated CA) in
// work/mitmproxy, and upstream certificates verified against the
// upstream's CA (not --ssl-insecure). It returns the process, its
// address and its CA certificate file.
func startMitmdump(bin, work string) (cmd *exec.Cmd, addr, caFile string, err error) {
	addon := filepath.Join(work, "allowlist.py")
	if err := os.WriteFile(addon, allowlistAddon, 0o600); err != nil {
		return nil, "", "", err
	}
	port, err := freePort()
	if err != nil {
		return nil, "", "", err
	}
	confdir := filepath.Join(work, "mitmproxy")
	logf, err := os.Create(filepath.Join(work, "mitmdump.log"))
	if err != nil {
		return nil, "", "", err
	}
	defer logf.Close()
	cmd = exec.Command(bin, "-q",
		"--listen-host", "127.0.0.1", "--listen-port", strconv.Itoa(port),
		"--set", "confdir="+confdir,
		"-s", addon, "--set", "allowlist="+routeHost,
		"--set", "ssl_verify_upstream_trusted_ca="+filepath.Join(work, upstreamCAFile),
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, "", "", fmt.Errorf("start mitmdump: %w (install Debian's mitmproxy package)", err)
	}
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	caFile = filepath.Join(confdir, "mitmproxy-ca-cert.pem")
	deadline := time.Now().Add(mitmdumpStartTimeout)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(caFile); err == nil {
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				return cmd, addr, caFile, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopMitmdump(cmd)
	log, _ := os.ReadFile(filepath.Join(work, "mitmdump.log"))
	return nil, "", "", fmt.Errorf("mitmdump did not listen on %s within %s: %s", addr, mitmdumpStartTimeout, strings.TrimSpace(string(log)))
}

// stopMitmdump ends the mitmdump this program started: SIGTERM, then
// SIGKILL after five seconds.
func stopMitmdump(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// mitmdumpVersion is the first line of `mitmdump --version`.
func mitmdumpVersion(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
