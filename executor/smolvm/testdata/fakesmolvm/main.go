// Command fakesmolvm stands in for the smolvm CLI in tests (this machine
// has no KVM). It answers the subcommands executor/smolvm runs the way the
// real CLI does (docs/smolvm.md), records every argv, keeps machine state
// on disk, and has switchable failure modes.
//
// Environment:
//
//	FAKESMOLVM_LOG          file that gets one JSON line {"argv":[...]} per call
//	FAKESMOLVM_STATE        directory holding one <name>.json per machine
//	FAKESMOLVM_VERSION      version `--version` reports (default 1.22.2)
//	FAKESMOLVM_FAIL         "<group> <sub>" (e.g. "machine start") that exits 1
//	FAKESMOLVM_NET_OFF      "1": machines come up with networking off and no
//	                        allow list (the --net pitfall)
//	FAKESMOLVM_NEVER_READY  "1": `machine exec` never succeeds (guest not up)
//	FAKESMOLVM_NO_ALLOWLIST "1": `machine ls --json` omits allowed_cidrs
//
// `machine cp` needs the destination's parent directory to exist (made
// by `exec -- mkdir -p` or one of a few base directories).
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// machine is one machine's state file.
type machine struct {
	Name         string            `json:"name"`
	State        string            `json:"state"`
	Network      bool              `json:"network"`
	AllowedCIDRs []string          `json:"allowed_cidrs"`
	Labels       map[string]string `json:"labels"`
	Env          map[string]string `json:"env"`
	From         string            `json:"from"`
	CPUs         int               `json:"cpus"`
	MemoryMiB    int               `json:"memory_mib"`
	Cmd          []string          `json:"cmd"`
	PID          *int              `json:"pid"`
	// Agent is the background process started by `exec -d`, with the
	// env the guest process got (literals and resolved secrets).
	Agent *agent `json:"agent,omitempty"`
	// Dirs are directories made with `exec -- mkdir -p`; Files are
	// uploads by `machine cp` (path -> content and octal mode).
	Dirs  []string             `json:"dirs,omitempty"`
	Files map[string]guestFile `json:"files,omitempty"`
}

type guestFile struct {
	Content string `json:"content"`
	Mode    string `json:"mode"`
}

type agent struct {
	Argv []string          `json:"argv"`
	Env  map[string]string `json:"env"`
}

// usageError is a clap-style argument error: exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	args := os.Args[1:]
	if err := record(args); err != nil {
		fmt.Fprintln(os.Stderr, "fakesmolvm:", err)
		os.Exit(70)
	}
	if err := run(args); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func record(args []string) error {
	path := os.Getenv("FAKESMOLVM_LOG")
	if path == "" {
		return nil
	}
	line, err := json.Marshal(map[string][]string{"argv": args})
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

func run(args []string) error {
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-V") {
		v := os.Getenv("FAKESMOLVM_VERSION")
		if v == "" {
			v = "1.22.2"
		}
		fmt.Println("smolvm " + v)
		return nil
	}
	if len(args) < 2 {
		return usageError{"a subcommand is required"}
	}
	verb := args[0] + " " + args[1]
	if os.Getenv("FAKESMOLVM_FAIL") == verb {
		return fmt.Errorf("injected failure in `%s`", verb)
	}
	f, err := parse(verb, args[2:])
	if err != nil {
		return err
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
	case "machine delete", "machine rm":
		return remove(f)
	case "machine ls", "machine list":
		return list(f)
	case "machine exec":
		return execute(f)
	case "machine cp":
		return copyFile(f)
	}
	return usageError{fmt.Sprintf("unrecognized subcommand '%s'", verb)}
}

// flags are parsed arguments: repeated values in order, and the
// trailing command after "--".
type flags struct {
	pos     []string
	vals    map[string][]string
	bools   map[string]bool
	command []string
}

func (f flags) one(name string) string {
	v := f.vals[name]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// Flag aliases, spelled as smolvm's clap definitions spell them.
var valueFlags = map[string]string{
	"--name": "name", "-n": "name",
	"--from": "from", "--allow-cidr": "allow-cidr",
	"--cpus": "cpus", "--mem": "mem", "--label": "label",
	"-e": "env", "--env": "env",
	"--secret-env": "secret-env", "--secret-file": "secret-file",
	"--image": "image", "-I": "image", "-o": "output", "--output": "output",
	"--mode": "mode",
}

var boolFlags = map[string]string{
	"--net": "net", "-d": "detach", "--detach": "detach",
	"-f": "force", "--force": "force", "--json": "json",
}

func parse(verb string, args []string) (flags, error) {
	f := flags{vals: map[string][]string{}, bools: map[string]bool{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			f.command = args[i+1:]
			break
		}
		if name, ok := valueFlags[a]; ok {
			if i+1 >= len(args) {
				return f, usageError{fmt.Sprintf("a value is required for '%s' but none was supplied", a)}
			}
			f.vals[name] = append(f.vals[name], args[i+1])
			i++
			continue
		}
		if name, ok := boolFlags[a]; ok {
			f.bools[name] = true
			continue
		}
		if verb == "machine cp" && !strings.HasPrefix(a, "-") {
			f.pos = append(f.pos, a)
			continue
		}
		return f, usageError{fmt.Sprintf("unexpected argument '%s' found in `%s`", a, verb)}
	}
	return f, nil
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

func packCreate(f flags) error {
	img, out := f.one("image"), f.one("output")
	if img == "" || out == "" {
		return usageError{"the following required arguments were not provided: --image <IMAGE> --output <PATH>"}
	}
	if err := os.WriteFile(out, []byte("#!stub\n"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(out+".smolmachine", []byte("packed "+img+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Printf("Packed %s -> %s\n", img, out)
	return nil
}

func create(f flags) error {
	name := f.one("name")
	if name == "" {
		return usageError{"--name is required"}
	}
	from := f.one("from")
	if from != "" {
		if _, err := os.Stat(from); err != nil {
			return fmt.Errorf("create from .smolmachine: file not found: %s", from)
		}
	}
	if _, err := load(name); err == nil {
		return fmt.Errorf("machine '%s' already exists", name)
	}
	m := &machine{Name: name, State: "created", From: from, Labels: map[string]string{}, Env: map[string]string{}, Cmd: f.command}
	// --allow-cidr implies --net in smolvm (resolve_egress_flags).
	m.Network = f.bools["net"] || len(f.vals["allow-cidr"]) > 0
	m.AllowedCIDRs = append([]string{}, f.vals["allow-cidr"]...)
	if os.Getenv("FAKESMOLVM_NET_OFF") == "1" {
		m.Network, m.AllowedCIDRs = false, []string{}
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
	m.State, m.PID = "running", &pid
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
		return usageError{"the fake answers only `machine ls --json`"}
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
	var out []map[string]any
	for _, p := range files {
		m, err := load(strings.TrimSuffix(filepath.Base(p), ".json"))
		if err != nil {
			return err
		}
		obj := map[string]any{
			"name": m.Name, "state": m.State, "cpus": m.CPUs, "memory_mib": m.MemoryMiB,
			"pid": m.PID, "mounts": 0, "ports": 0, "image": nil, "cmd": m.Cmd,
			"ephemeral": false, "network": m.Network, "labels": m.Labels,
			"allowed_cidrs": m.AllowedCIDRs,
		}
		if os.Getenv("FAKESMOLVM_NO_ALLOWLIST") == "1" {
			delete(obj, "allowed_cidrs")
		}
		out = append(out, obj)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}

func execute(f flags) error {
	m, err := load(f.one("name"))
	if err != nil {
		return err
	}
	if len(f.command) == 0 {
		return usageError{"a command is required after --"}
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
	if !f.bools["detach"] {
		switch f.command[0] {
		case "false":
			return errors.New("command exited with status 1")
		case "test":
			// test -e PATH: the guest's exit code, no output.
			if len(f.command) == 3 && f.command[1] == "-e" {
				if _, ok := m.Files[f.command[2]]; ok || slices.Contains(m.Dirs, f.command[2]) {
					return nil
				}
				os.Exit(1)
			}
			return usageError{"the fake answers only `test -e PATH`"}
		case "mkdir":
			for _, d := range f.command[1:] {
				if !strings.HasPrefix(d, "-") {
					m.Dirs = append(m.Dirs, d)
				}
			}
			return save(m)
		}
		return nil
	}
	m.Agent = &agent{Argv: f.command, Env: env}
	if err := save(m); err != nil {
		return err
	}
	fmt.Println(4343)
	return nil
}

// baseDirs exist in every guest image.
var baseDirs = []string{"/", "/etc", "/tmp", "/root"}

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
	dir := path.Dir(guestPath)
	if !slices.Contains(baseDirs, dir) && !slices.Contains(m.Dirs, dir) {
		return fmt.Errorf("write %s: No such file or directory (os error 2)", guestPath)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("read local file: %s: %v", src, err)
	}
	if m.Files == nil {
		m.Files = map[string]guestFile{}
	}
	m.Files[guestPath] = guestFile{Content: string(b), Mode: f.one("mode")}
	return save(m)
}
