// Command fakesmolvm stands in for the smolvm CLI in tests (this machine
// has no KVM). It accepts exactly the arguments smolvm v1.9.3 defines for
// the subcommands executor/smolvm runs (args.go, compared with the
// recorded ../smolvm-cli.json by TestFakeMatchesRecordedCLI), prints the
// JSON shapes of that release, records every argv, keeps machine state on
// disk, models the egress policy as smolvm's virtio-net gateway enforces
// it, and has switchable failure modes.
//
// Environment:
//
//	FAKESMOLVM_LOG          file that gets one JSON line {"argv":[...],"smolvm_env":[...]}
//	                        per call (smolvm_env: the SMOLVM_* names it saw)
//	FAKESMOLVM_STATE        directory holding one <name>.json per machine
//	FAKESMOLVM_VERSION      version `--version` reports (default 1.9.3)
//	FAKESMOLVM_FAIL         "<group> <sub>" (e.g. "machine start") that exits 1
//	FAKESMOLVM_FAIL_NAME    only when its --name is this machine
//	FAKESMOLVM_NET_OFF      "1": machines come up with networking off (the
//	                        --net pitfall)
//	FAKESMOLVM_NEVER_READY  "1": `machine exec` never succeeds (guest not up)
//	FAKESMOLVM_LEAKY        "1": the guest reaches every address, beyond its
//	                        allow list, and nothing is recorded
//	FAKESMOLVM_DNS_OPEN     "1": the gateway forwards every lookup, as it does
//	                        without an allow-host list
//	FAKESMOLVM_NO_EVENTS    "1": refusals happen but are not recorded
//
// Modelled from the smolvm source (v1.9.3): `machine cp` creates the parent
// directories of an upload (crates/smolvm-agent/src/main.rs); TSI does not
// enforce the allow list, and a policy picks virtio-net unless a backend is
// given (src/network/launch.rs); the gateway refuses SYNs to destinations
// outside the allow list and lookups of names outside the allow-host list,
// recording each (crates/smolvm-network/src/egress.rs, tcp_relay.rs,
// stack.rs); `--allow-host` resolves at create and fails hard when it
// cannot (src/cli/machine.rs resolve_egress_flags; the fake resolves only
// IP literals); `pack create --from-vm` needs a stopped machine that has
// been started (src/cli/pack.rs, src/pack_export.rs).
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bottleplan/bottleplan/bundle/probewire"
)

// machine is one machine's state file.
type machine struct {
	Name         string            `json:"name"`
	State        string            `json:"state"`
	Booted       bool              `json:"booted"`
	Network      bool              `json:"network"`
	NetBackend   string            `json:"net_backend"`
	AllowedCIDRs []string          `json:"allowed_cidrs"`
	AllowedHosts []string          `json:"allowed_hosts"`
	Labels       map[string]string `json:"labels"`
	Env          map[string]string `json:"env"`
	From         string            `json:"from"`
	Image        *string           `json:"image"`
	CPUs         int               `json:"cpus"`
	MemoryMiB    int               `json:"memory_mib"`
	Cmd          []string          `json:"cmd"`
	PID          *int              `json:"pid"`
	// Agent is the background process started by `exec -d`, with the
	// env the guest process got (literals and resolved secrets).
	Agent *agent `json:"agent,omitempty"`
	// Files are uploads by `machine cp` (path -> content and octal mode).
	Files map[string]guestFile `json:"files,omitempty"`
	// Denials are the egress refusals the gateway recorded.
	Denials []denial `json:"denials,omitempty"`
}

type guestFile struct {
	// Content is the file, or for a large one "sha256:<hex>".
	Content string `json:"content"`
	Mode    string `json:"mode"`
}

type agent struct {
	Argv []string          `json:"argv"`
	Env  map[string]string `json:"env"`
}

// denial is one `machine egress-events --json` entry (src/agent/manager.rs
// EgressDenial).
type denial struct {
	Timestamp string `json:"timestamp"`
	Operation string `json:"operation"`
	Dest      string `json:"dest"`
}

// usageError is a clap-style argument error: exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// unmodelled is a real flag the fake does not act on: exit 70, so a test
// never passes on a flag the fake silently ignored.
type unmodelled struct{ flag, verb string }

func (e unmodelled) Error() string {
	return fmt.Sprintf("fakesmolvm does not model %s of `%s`", e.flag, e.verb)
}

func main() {
	args := os.Args[1:]
	if err := record(args); err != nil {
		fmt.Fprintln(os.Stderr, "fakesmolvm:", err)
		os.Exit(70)
	}
	if err := run(args); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		var ue usageError
		var um unmodelled
		switch {
		case errors.As(err, &ue):
			os.Exit(2)
		case errors.As(err, &um):
			os.Exit(70)
		}
		os.Exit(1)
	}
}

func record(args []string) error {
	path := os.Getenv("FAKESMOLVM_LOG")
	if path == "" {
		return nil
	}
	var seen []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "SMOLVM_") {
			seen = append(seen, k)
		}
	}
	line, err := json.Marshal(map[string][]string{"argv": args, "smolvm_env": seen})
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write(append(line, '\n'))
	return err
}

func version() string {
	if v := os.Getenv("FAKESMOLVM_VERSION"); v != "" {
		return v
	}
	return "1.9.3"
}

func run(args []string) error {
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-V") {
		fmt.Println("smolvm " + version())
		return nil
	}
	if len(args) < 2 {
		return usageError{"a subcommand is required"}
	}
	verb := args[0] + " " + args[1]
	verb = strings.NewReplacer("vm ", "machine ", "machine rm", "machine delete", "machine list", "machine ls").Replace(verb)
	spec, ok := commands[verb]
	if !ok {
		return usageError{fmt.Sprintf("unrecognized subcommand '%s'", verb)}
	}
	if len(args) == 3 && (args[2] == "--help" || args[2] == "-h") {
		fmt.Print(help(verb, spec))
		return nil
	}
	f, err := parse(verb, spec, args[2:])
	if err != nil {
		return err
	}
	if os.Getenv("FAKESMOLVM_FAIL") == verb {
		if n := os.Getenv("FAKESMOLVM_FAIL_NAME"); n == "" || n == f.one("name") {
			return fmt.Errorf("injected failure in `%s`", verb)
		}
	}
	switch verb {
	case "pack create":
		return packCreate(f)
	case "machine create":
		return create(f)
	case "machine start":
		return start(f)
	case "machine stop":
		return stop(f)
	case "machine delete":
		return remove(f)
	case "machine ls":
		return list(f)
	case "machine exec":
		return execute(f)
	case "machine cp":
		return copyFile(f)
	case "machine egress-events":
		return egressEvents(f)
	}
	return usageError{fmt.Sprintf("unrecognized subcommand '%s'", verb)}
}

func stateDir() (string, error) {
	d := os.Getenv("FAKESMOLVM_STATE")
	if d == "" {
		return "", errors.New("FAKESMOLVM_STATE is not set")
	}
	return d, os.MkdirAll(d, 0o755)
}

func load(name string) (*machine, error) {
	d, err := stateDir()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(d, name+".json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("machine '%s' not found", name)
	}
	if err != nil {
		return nil, err
	}
	var m machine
	return &m, json.Unmarshal(b, &m)
}

func save(m *machine) error {
	d, err := stateDir()
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	// Atomic, as smolvm's database is: a concurrent `ls` never reads a
	// half-written machine.
	tmp, err := os.CreateTemp(d, ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(d, m.Name+".json"))
}

// isArchivePath reports whether an --image value is a local archive or
// rootfs rather than a registry reference (src/cli/machine.rs parse_image:
// a bare name is always a registry reference).
func isArchivePath(s string) bool {
	return s == "-" || strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") || strings.HasSuffix(s, ".tar")
}

func packCreate(f flags) error {
	out := f.one("output")
	if out == "" {
		return usageError{"the following required arguments were not provided: --output <PATH>"}
	}
	if strings.HasSuffix(out, ".smolmachine") {
		return errors.New("pack create: --output names the executable; drop the .smolmachine extension")
	}
	if img := f.one("image"); img != "" {
		// smolvm issue #890: pack create pulls --image from a registry.
		if isArchivePath(img) {
			return fmt.Errorf("pull image '%s': invalid reference format (pack create takes a registry reference)", img)
		}
		return errors.New("fakesmolvm has no registry to pull from")
	}
	name := f.one("from-vm")
	if name == "" {
		return usageError{"the following required arguments were not provided: --image <IMAGE>"}
	}
	m, err := load(name)
	if err != nil {
		return fmt.Errorf("pack from VM: VM '%s' not found", name)
	}
	if m.State == "running" {
		return fmt.Errorf("pack from VM: VM '%s' is running. Stop it first with: smolvm machine stop --name %s", name, name)
	}
	if !m.Booted {
		return errors.New("collect assets: storage disk not found. The VM may not have been started yet.")
	}
	src := m.From
	if m.Image != nil {
		src = *m.Image
	}
	if err := os.WriteFile(out, []byte("#!stub\n"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(out+".smolmachine", []byte("packed from "+src+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Printf("Packing VM '%s' snapshot...\n", name)
	return nil
}

func create(f flags) error {
	name := f.one("name")
	if name == "" {
		return usageError{"the fake needs --name"}
	}
	from, image := f.one("from"), f.one("image")
	if from != "" && image != "" {
		return usageError{"the argument '--from <PATH>' cannot be used with '--image <IMAGE>'"}
	}
	if from != "" {
		if _, err := os.Stat(from); err != nil {
			return fmt.Errorf("create from .smolmachine: file not found: %s", from)
		}
	}
	if image != "" {
		if !isArchivePath(image) {
			return errors.New("fakesmolvm has no registry to pull from")
		}
		if _, err := os.Stat(image); err != nil {
			return fmt.Errorf("image archive not found: %s", image)
		}
	}
	if _, err := load(name); err == nil {
		return fmt.Errorf("machine '%s' already exists", name)
	}
	m := &machine{Name: name, State: "created", From: from, Labels: map[string]string{}, Env: map[string]string{}, Cmd: f.command}
	if image != "" {
		m.Image = &image
	}
	cidrs := append([]string{}, f.vals["allow-cidr"]...)
	for _, c := range cidrs {
		if _, err := netip.ParsePrefix(c); err != nil {
			return usageError{fmt.Sprintf("invalid value '%s' for '--allow-cidr <CIDR>'", c)}
		}
	}
	// --allow-host resolves at create, hard failure when it cannot; an
	// IP literal is its own /32 (src/smolfile.rs resolve_host_to_cidrs).
	for _, h := range f.vals["allow-host"] {
		ip, err := netip.ParseAddr(h)
		if err != nil {
			return fmt.Errorf("--allow-host: failed to resolve '%s': fakesmolvm resolves only IP literals", h)
		}
		cidrs = append(cidrs, netip.PrefixFrom(ip, ip.BitLen()).String())
		m.AllowedHosts = append(m.AllowedHosts, strings.ToLower(h))
	}
	// Any egress flag implies --net (resolve_egress_flags).
	m.Network = f.bools["net"] || len(cidrs) > 0
	m.AllowedCIDRs = cidrs
	m.NetBackend = f.one("net-backend")
	switch m.NetBackend {
	case "", "tsi", "virtio-net":
	default:
		return usageError{fmt.Sprintf("invalid value '%s' for '--net-backend <NET_BACKEND>'", m.NetBackend)}
	}
	if os.Getenv("FAKESMOLVM_NET_OFF") == "1" {
		m.Network = false
	}
	fmt.Sscan(f.one("cpus"), &m.CPUs)
	fmt.Sscan(f.one("mem"), &m.MemoryMiB)
	for _, kv := range f.vals["label"] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("invalid label '%s': expected KEY=VALUE", kv)
		}
		m.Labels[k] = v
	}
	for _, kv := range f.vals["env"] {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			m.Env[k] = v
		}
	}
	// `create --from` accepts --secret-env but drops it (smolvm PR #893
	// is open): the fake does the same, so relying on it fails tests.
	if err := save(m); err != nil {
		return err
	}
	fmt.Printf("Created machine: %s\n", name)
	return nil
}

func start(f flags) error {
	m, err := load(f.one("name"))
	if err != nil {
		return err
	}
	if m.State == "running" {
		fmt.Printf("Machine '%s' already running\n", m.Name)
		return nil
	}
	pid := 4242
	m.State, m.PID, m.Booted = "running", &pid, true
	if err := save(m); err != nil {
		return err
	}
	fmt.Printf("Machine '%s' running (PID: %d)\n", m.Name, pid)
	return nil
}

func stop(f flags) error {
	m, err := load(f.one("name"))
	if err != nil {
		return err
	}
	m.State, m.PID, m.Agent = "stopped", nil, nil
	return save(m)
}

func remove(f flags) error {
	m, err := load(f.one("name"))
	if err != nil {
		return err
	}
	if !f.bools["force"] {
		return fmt.Errorf("delete machine '%s': confirmation required (stdin is not a terminal); pass -f", m.Name)
	}
	d, _ := stateDir()
	if err := os.Remove(filepath.Join(d, m.Name+".json")); err != nil {
		return err
	}
	fmt.Printf("Deleted machine: %s\n", m.Name)
	return nil
}

func list(f flags) error {
	if !f.bools["json"] {
		return unmodelled{"the table output", "machine ls"}
	}
	d, err := stateDir()
	if err != nil {
		return err
	}
	files, err := filepath.Glob(filepath.Join(d, "*.json"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	if len(files) == 0 {
		fmt.Println("[]")
		return nil
	}
	out := []map[string]any{}
	for _, p := range files {
		m, err := load(strings.TrimSuffix(filepath.Base(p), ".json"))
		if err != nil {
			return err
		}
		out = append(out, lsObject(m))
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}

// lsObject is one machine as `machine ls --json` prints it
// (src/cli/vm_common.rs machine_status_json, v1.9.3): no allow list.
func lsObject(m *machine) map[string]any {
	return map[string]any{
		"name": m.Name, "state": m.State, "cpus": m.CPUs, "memory_mib": m.MemoryMiB,
		"pid": m.PID, "mounts": 0, "ports": 0, "created_at": 1_700_000_000,
		"storage_gb": nil, "overlay_gb": nil, "image": m.Image, "entrypoint": []string{}, "cmd": m.Cmd,
		"ephemeral": false, "gpu": false, "gpu_vram_mib": nil, "cuda": false, "forkable": false,
		"cuda_fork_pool_size": nil, "cuda_vram_limit_mib": nil, "forkpoint_held": false,
		"labels": m.Labels, "restart_policy": "never", "restart_max_retries": 0, "restart_count": 0,
		"health_cmd": nil, "health_interval_secs": nil, "health_timeout_secs": nil,
		"health_retries": nil, "health_startup_grace_secs": nil,
		"network": m.Network,
	}
}

func execute(f flags) error {
	m, err := load(f.one("name"))
	if err != nil {
		return err
	}
	if len(f.command) == 0 {
		return usageError{"the following required arguments were not provided: <COMMAND>..."}
	}
	if f.bools["detach"] && (f.bools["interactive"] || f.bools["tty"]) {
		return usageError{"the argument '--detach' cannot be used with '--interactive'"}
	}
	if m.State != "running" || os.Getenv("FAKESMOLVM_NEVER_READY") == "1" {
		return fmt.Errorf("agent: connect: machine '%s' is not running. Use 'smolvm machine start --name %s' first", m.Name, m.Name)
	}
	env := map[string]string{}
	for k, v := range m.Env {
		env[k] = v
	}
	for _, spec := range f.vals["secret-env"] {
		guest, host, ok := strings.Cut(spec, "=")
		if !ok || guest == "" {
			return usageError{fmt.Sprintf("--secret-env: expected KEY=VALUE, got '%s'", spec)}
		}
		v, ok := os.LookupEnv(host)
		if !ok {
			return fmt.Errorf("resolve secret '%s': env_unset", guest)
		}
		env[guest] = v
	}
	for _, kv := range f.vals["env"] {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	if f.bools["detach"] {
		m.Agent = &agent{Argv: f.command, Env: env}
		if err := save(m); err != nil {
			return err
		}
		fmt.Println(4343)
		return nil
	}
	if file, ok := m.Files[f.command[0]]; ok && strings.Contains(file.Mode, "7") && len(f.command) > 1 && f.command[1] == "probe" {
		return probe(m, f.command[len(f.command)-1])
	}
	switch f.command[0] {
	case "false":
		return errors.New("command exited with status 1")
	case "test":
		// test -e PATH: the guest's exit code, no output.
		if len(f.command) == 3 && f.command[1] == "-e" {
			if _, ok := m.Files[f.command[2]]; ok {
				return nil
			}
			os.Exit(1)
		}
		return unmodelled{"`test` other than -e PATH", "machine exec"}
	case "true", "sh", "/bin/sh":
		return nil
	}
	return unmodelled{"the guest command " + f.command[0], "machine exec"}
}

func copyFile(f flags) error {
	if len(f.pos) != 2 {
		return usageError{"machine cp takes SRC and DST"}
	}
	src, dst := f.pos[0], f.pos[1]
	name, guestPath, ok := strings.Cut(dst, ":")
	if !ok {
		return errors.New("cp: one of SRC or DST must use machine:path syntax (e.g., myvm:/workspace/file)")
	}
	m, err := load(name)
	if err != nil {
		return err
	}
	if m.State != "running" {
		return fmt.Errorf("agent: connect: machine '%s' is not running", name)
	}
	if !strings.HasPrefix(guestPath, "/") {
		return fmt.Errorf("invalid guest path '%s': must be absolute", guestPath)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("read local file: %s: %v", src, err)
	}
	content := string(b)
	if len(b) > 4096 {
		sum := sha256.Sum256(b)
		content = "sha256:" + hex.EncodeToString(sum[:])
	}
	if m.Files == nil {
		m.Files = map[string]guestFile{}
	}
	// The guest agent creates the parent directories of an upload.
	m.Files[guestPath] = guestFile{Content: content, Mode: f.one("mode")}
	return save(m)
}

func egressEvents(f flags) error {
	name := f.one("name")
	if name == "" {
		name = "default"
	}
	var ds []denial
	if m, err := load(name); err == nil {
		ds = m.Denials
	}
	limit := 200
	if l := f.one("limit"); l != "" {
		if _, err := fmt.Sscan(l, &limit); err != nil {
			return usageError{fmt.Sprintf("invalid value '%s' for '--limit <LIMIT>'", l)}
		}
	}
	if len(ds) > limit {
		ds = ds[len(ds)-limit:]
	}
	if !f.bools["json"] {
		return unmodelled{"the table output", "machine egress-events"}
	}
	if ds == nil {
		ds = []denial{}
	}
	b, err := json.MarshalIndent(ds, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}

// backend is the machine's effective network backend: the one given, else
// virtio-net when a policy is set, else TSI (src/network/launch.rs).
func (m *machine) backend() string {
	if m.NetBackend != "" {
		return m.NetBackend
	}
	if len(m.AllowedCIDRs) > 0 || len(m.AllowedHosts) > 0 {
		return "virtio-net"
	}
	return "tsi"
}

// enforced reports whether the gateway enforces the allow list: TSI does
// not (src/network/launch.rs: "a non-allowed IP stays reachable").
func (m *machine) enforced() bool {
	return m.backend() == "virtio-net" && len(m.AllowedCIDRs)+len(m.AllowedHosts) > 0 && os.Getenv("FAKESMOLVM_LEAKY") != "1"
}

// allows is the gateway's verdict on ip: the metadata floor, then the
// allow list (crates/smolvm-network/src/egress.rs).
func (m *machine) allows(ip netip.Addr) bool {
	if ip.IsLinkLocalUnicast() {
		return false
	}
	for _, c := range m.AllowedCIDRs {
		if p, err := netip.ParsePrefix(c); err == nil && p.Contains(ip) {
			return true
		}
	}
	return false
}

// hostAllowed is dns.rs hostname_allowed: exact, or a subdomain.
func (m *machine) hostAllowed(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, a := range m.AllowedHosts {
		if host == a || strings.HasSuffix(host, "."+a) {
			return true
		}
	}
	return false
}

func (m *machine) deny(op, dest string) {
	if os.Getenv("FAKESMOLVM_NO_EVENTS") == "1" {
		return
	}
	m.Denials = append(m.Denials, denial{Timestamp: "2026-12-01T00:00:00.000000Z", Operation: op, Dest: dest})
}

// probe answers bottleplan-bundle's `probe` as it would run in the guest,
// with the gateway's verdicts; nothing is dialled.
func probe(m *machine, targetsJSON string) error {
	var ts []probewire.Target
	if err := json.Unmarshal([]byte(targetsJSON), &ts); err != nil {
		return fmt.Errorf("targets are not a JSON array of probes: %w", err)
	}
	rs := make([]probewire.Result, len(ts))
	for i, t := range ts {
		r := probewire.Result{Name: t.Name, Kind: t.Kind}
		switch t.Kind {
		case probewire.TCP, probewire.Connect:
			ap, err := netip.ParseAddrPort(t.Addr)
			switch {
			case err != nil:
				r.Error = err.Error()
			case !m.Network:
				r.Error = "dial tcp " + t.Addr + ": connect: network is unreachable"
			case m.enforced() && !m.allows(ap.Addr()):
				r.Error = "dial tcp " + t.Addr + ": i/o timeout"
				m.deny("connect", t.Addr)
			default:
				r.Reached = true
			}
		case probewire.DNS:
			switch {
			case !m.Network:
				r.Error = "lookup " + t.Host + ": network is unreachable"
			case m.backend() == "virtio-net" && len(m.AllowedHosts) > 0 && os.Getenv("FAKESMOLVM_DNS_OPEN") != "1" && !m.hostAllowed(t.Host):
				r.Error = "lookup " + t.Host + " on " + t.Server + ": no such host"
				m.deny("resolve", strings.ToLower(t.Host))
			case strings.HasSuffix(t.Host, ".invalid"):
				r.Error = "lookup " + t.Host + " on " + t.Server + ": no such host"
			default:
				r.Reached, r.Addrs = true, []string{"192.0.2.80"}
			}
		default:
			return unmodelled{"the probe kind " + t.Kind, "machine exec"}
		}
		rs[i] = r
	}
	if err := save(m); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rs, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}
