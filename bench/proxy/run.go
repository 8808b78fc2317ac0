package main

import (
	"bufio"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runConfig is the runner's flags.
type runConfig struct {
	work                      string
	clients, workloads, modes string
	runs                      int
	warmup, duration          time.Duration
	mitmdump, cpuprofile      string
	upstreamH2                bool
}

// cellKey names one measured cell.
type cellKey struct {
	mode, workload string
	clients        int
}

// run starts the upstream, the bundle and mitmdump, measures every cell
// and prints the table on stdout (progress on stderr).
func run(cfg runConfig) error {
	counts, err := parseInts(cfg.clients)
	if err != nil {
		return fmt.Errorf("-clients: %w", err)
	}
	var wls []string
	for _, w := range strings.Split(cfg.workloads, ",") {
		if _, ok := workloads[w]; !ok {
			return fmt.Errorf("-workloads: unknown %q", w)
		}
		wls = append(wls, w)
	}
	modes := strings.Split(cfg.modes, ",")
	if cfg.runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	if err := os.MkdirAll(cfg.work, 0o700); err != nil {
		return err
	}
	loadBefore := loadavg()
	if err := makeUpstreamCert(cfg.work); err != nil {
		return err
	}
	upRoots, err := pool(filepath.Join(cfg.work, upstreamCAFile))
	if err != nil {
		return err
	}
	up, upAddr, err := startChild("upstream", "-work", cfg.work, "-upstream-h2="+strconv.FormatBool(cfg.upstreamH2))
	if err != nil {
		return err
	}
	defer up.stop()
	_, port, _ := net.SplitHostPort(upAddr)
	base := "https://" + net.JoinHostPort(routeHost, port)

	targets := map[string]target{}
	for _, m := range modes {
		switch m {
		case "direct":
			targets[m] = target{mode: m, roots: upRoots}
		case "bundle":
			args := []string{"-work", cfg.work, "-upstream", upAddr}
			if cfg.cpuprofile != "" {
				args = append(args, "-cpuprofile", cfg.cpuprofile)
			}
			b, addr, err := startChild("bundle", args...)
			if err != nil {
				return err
			}
			defer b.stop()
			roots, err := pool(filepath.Join(cfg.work, bundleCAFile))
			if err != nil {
				return err
			}
			targets[m] = target{mode: m, proxy: &url.URL{Scheme: "http", Host: addr}, roots: roots}
		case "mitmdump":
			cmd, addr, caFile, err := startMitmdump(cfg.mitmdump, cfg.work)
			if err != nil {
				return err
			}
			defer stopMitmdump(cmd)
			roots, err := pool(caFile)
			if err != nil {
				return err
			}
			targets[m] = target{mode: m, proxy: &url.URL{Scheme: "http", Host: addr}, roots: roots}
		default:
			return fmt.Errorf("-modes: unknown %q", m)
		}
	}

	var protos []string
	for _, m := range modes {
		proto, err := checkTarget(targets[m], base)
		if err != nil {
			return err
		}
		protos = append(protos, m+" "+proto)
	}
	fmt.Fprintf(os.Stderr, "checked: %s\n", strings.Join(modes, ", "))

	best := map[cellKey]result{}
	for _, w := range wls {
		for _, n := range counts {
			for r := 0; r < cfg.runs; r++ {
				for _, m := range modes {
					res := measure(targets[m], base, workloads[w], n, cfg.warmup, cfg.duration)
					fmt.Fprintf(os.Stderr, "%-8s %-4s c=%-3d run %d: %8.0f req/s p50 %s p99 %s errors %d %s\n",
						m, w, n, r+1, res.rps(), ms(res.p50), ms(res.p99), res.errors, res.firstErr)
					k := cellKey{m, w, n}
					if old, ok := best[k]; !ok || res.rps() > old.rps() {
						best[k] = res
					}
				}
			}
		}
	}
	printTable(os.Stdout, cfg, wls, counts, modes, best)
	fmt.Printf("\nupstream reached with: %s\n", strings.Join(protos, ", "))
	fmt.Printf("network: %s\n", netIsolation())
	fmt.Printf("machine: %d cores, %s, %s; load average %s before, %s after\n",
		runtime.NumCPU(), runtime.Version(), mitmdumpVersion(cfg.mitmdump), loadBefore, loadavg())
	return nil
}

// child is a role of this binary running as its own process; it stops
// when its stdin closes.
type child struct {
	name  string
	cmd   *exec.Cmd
	stdin io.Closer
}

// startChild starts this binary with -role name and args and waits for
// its "ready <addr>" line.
func startChild(name string, args ...string) (*child, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(self, append([]string{"-role", name}, args...)...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, "", err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	c := &child{name: name, cmd: cmd, stdin: in}
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
	if err != nil || !ok {
		c.stop()
		return nil, "", fmt.Errorf("%s did not start: %q %v", name, line, err)
	}
	return c, addr, nil
}

// stop closes the child's stdin and waits for it to exit (a profile is
// written on the way out); after ten seconds it is killed.
func (c *child) stop() {
	c.stdin.Close()
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
}

func pool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no certificate", file)
	}
	return p, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// netIsolation says whether this process sees any interface but lo.
func netIsolation() string {
	ifs, err := net.Interfaces()
	if err != nil {
		return "unknown: " + err.Error()
	}
	var names []string
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	if len(names) == 1 && names[0] == "lo" {
		return "a network namespace of its own with only lo"
	}
	return "the host's network namespace (loopback addresses only; interfaces " + strings.Join(names, ", ") + ")"
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
