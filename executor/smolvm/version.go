package smolvm

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Version is a smolvm release number.
type Version struct{ Major, Minor, Patch int }

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// less reports whether v sorts before w.
func (v Version) less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

// Spelling is how one range of smolvm releases spells the flags and output
// fields this package relies on, and which of the features it needs that
// range has. Every version-specific string lives here and nowhere else; an
// empty field means the range has no such feature. Each value is checked
// against the smolvm source at the tags in the row's Checked list
// (docs/smolvm.md, "Version table"; testdata/smolvm-cli.json records the
// argument definitions and JSON shapes it was read from).
type Spelling struct {
	// Name selects the machine on every machine subcommand (`--name`:
	// `machine exec` has no short form).
	Name string
	// From creates a machine from a packed .smolmachine artifact.
	From string
	// Image creates a machine from an image: a registry reference or a
	// `docker save` archive (src/cli/machine.rs CreateCmd.image).
	Image string
	// Net turns networking on. Always passed: networking is off without it
	// (docs/smolvm.md, "the --net pitfall").
	Net string
	// NetBackend and NetBackendVirtio select the virtio-net backend,
	// always explicitly: TSI does not enforce the allow list
	// (src/network/launch.rs).
	NetBackend, NetBackendVirtio string
	// AllowCIDR adds one CIDR to the egress allow list.
	AllowCIDR string
	// AllowHost turns the gateway's DNS filter on with one allowed name.
	// bottleplan passes the bundle's IP literal, which becomes its own /32
	// without a lookup (src/smolfile.rs resolve_host_to_cidrs) and matches
	// no resolvable name, so every guest lookup is refused ("DNS closed").
	AllowHost string
	// Env sets one literal guest variable (KEY=VALUE, on argv).
	Env string
	// Label attaches one KEY=VALUE label, read back by `machine ls --json`.
	Label string
	// CPUs and Mem size the machine.
	CPUs, Mem string
	// SecretEnv injects a guest variable from a host variable of the
	// smolvm process (GUEST=HOST_VAR): the value travels in the process
	// environment, never on argv. "" means the range has no secret
	// mechanism; a plan with host-copied or prompted env is then refused.
	SecretEnv string
	// Detach makes `machine exec` start the command in the background;
	// Interactive and TTY attach stdin and a terminal (attach, exec).
	Detach, Interactive, TTY string
	// Force skips the confirmation prompt of `machine delete`.
	Force string
	// PackFromVM and PackOutput are `pack create`'s snapshot-source and
	// output flags. PackFromVM "" means the range cannot pack a machine:
	// every agent machine is then created from the image archive itself.
	// (`pack create --image` takes a registry reference only, smolvm
	// issue #890, so it cannot pack a `docker save` archive.)
	PackFromVM, PackOutput string
	// SidecarSuffix is appended to the pack output path for the artifact
	// `machine create --from` takes.
	SidecarSuffix string
	// JSON is the flag that makes `machine ls` and `machine egress-events`
	// print JSON.
	JSON string
	// EgressEvents is the subcommand listing a machine's egress denials;
	// Limit bounds how many it prints. "" means the range cannot show what
	// its policy refused, so the allow list cannot be checked by
	// behaviour and the range is refused (see EgressEventsSince).
	EgressEvents, Limit string
	// CpMode sets an uploaded file's mode on `machine cp`; CpSep joins
	// the machine name and guest path of its destination (name:path).
	// `machine cp` creates the parent directories of an upload itself.
	CpMode, CpSep string
	// GatewayIP is the guest's virtio-net gateway. A guest flow to it is
	// relayed to host loopback when the allow list lets it through
	// (crates/smolvm-network/src/tcp_relay.rs host_connect_addr); verify
	// checks that it does not.
	GatewayIP string

	// LsNetwork, LsLabels and LsState are the keys of one machine object
	// in `machine ls --json`. It has no allow-list key: the allow list is
	// checked by behaviour (Backend.CheckEgress).
	LsNetwork, LsLabels, LsState string
	// StateRunning is the LsState value of a running machine.
	StateRunning string
}

// release is one row of the version table: [Min, Below) share a Spelling.
type release struct {
	Min, Below Version
	// Checked are the smolvm tags the row was read from and checked
	// against (testdata/smolvm-cli.json has each one's recorded CLI).
	Checked  []string
	Spelling Spelling
}

// Versions that introduced what the backend needs, read from the smolvm
// source tags (docs/smolvm.md): the table's minimum is the newest of them.
var (
	// LabelsSince: `machine create --label`, read back by `ls --json`.
	LabelsSince = Version{1, 8, 0}
	// EgressEventsSince: `machine egress-events --json`, the record that
	// proves a refused probe was refused by the allow list.
	EgressEventsSince = Version{1, 8, 1}
	// CpModeSince: `machine cp --mode`.
	CpModeSince = Version{1, 9, 0}
)

// releases is the version table. A smolvm outside every row is refused.
//
// 1.9.0 is the first release with everything above; 1.9.0 and 1.9.3 (the
// newest tag checked) have identical argument definitions and JSON shapes
// for every subcommand used. 2.0.0 is excluded until someone checks it: a
// major release may rename what this package depends on.
var releases = []release{
	{
		Min:     CpModeSince,
		Below:   Version{2, 0, 0},
		Checked: []string{"v1.9.0", "v1.9.3"},
		Spelling: Spelling{
			Name:             "--name",
			From:             "--from",
			Image:            "--image",
			Net:              "--net",
			NetBackend:       "--net-backend",
			NetBackendVirtio: "virtio-net",
			AllowCIDR:        "--allow-cidr",
			AllowHost:        "--allow-host",
			Env:              "-e",
			Label:            "--label",
			CPUs:             "--cpus",
			Mem:              "--mem",
			SecretEnv:        "--secret-env",
			Detach:           "-d",
			Interactive:      "-i",
			TTY:              "-t",
			Force:            "-f",
			PackFromVM:       "--from-vm",
			PackOutput:       "-o",
			SidecarSuffix:    ".smolmachine",
			JSON:             "--json",
			EgressEvents:     "egress-events",
			Limit:            "--limit",
			CpMode:           "--mode",
			CpSep:            ":",
			GatewayIP:        "100.96.0.1",
			LsNetwork:        "network",
			LsLabels:         "labels",
			LsState:          "state",
			StateRunning:     "running",
		},
	},
}

// SupportedRange describes the version table for error messages.
func SupportedRange() string {
	parts := make([]string, len(releases))
	for i, r := range releases {
		parts[i] = fmt.Sprintf(">= %s, < %s", r.Min, r.Below)
	}
	return strings.Join(parts, " or ")
}

// SpellingFor returns the spelling of version v, or an error naming the
// supported range.
func SpellingFor(v Version) (Spelling, error) {
	for _, r := range releases {
		if !v.less(r.Min) && v.less(r.Below) {
			return r.Spelling, nil
		}
	}
	why := ""
	if v.less(releases[0].Min) {
		why = fmt.Sprintf(": it lacks `machine create --label` (since %s), `machine egress-events` (since %s, needed to check the allow list by behaviour) or `machine cp --mode` (since %s)", LabelsSince, EgressEventsSince, CpModeSince)
	}
	return Spelling{}, fmt.Errorf("smolvm %s is not supported (supported: %s)%s; install a supported release or set the smolvm path to one", v, SupportedRange(), why)
}

// ParseVersion reads the output of `smolvm --version` ("smolvm 1.22.2",
// possibly with a pre-release or build suffix, which is ignored).
func ParseVersion(out string) (Version, error) {
	fields := strings.Fields(out)
	if len(fields) < 2 || fields[0] != "smolvm" {
		return Version{}, fmt.Errorf("unexpected `smolvm --version` output %q: want \"smolvm X.Y.Z\"", strings.TrimSpace(out))
	}
	s := strings.TrimPrefix(fields[1], "v")
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		s = s[:i]
	}
	nums := strings.Split(s, ".")
	if len(nums) != 3 {
		return Version{}, fmt.Errorf("unexpected smolvm version %q: want X.Y.Z", fields[1])
	}
	var v [3]int
	for i, n := range nums {
		x, err := strconv.Atoi(n)
		if err != nil || x < 0 {
			return Version{}, fmt.Errorf("unexpected smolvm version %q: want X.Y.Z", fields[1])
		}
		v[i] = x
	}
	return Version{v[0], v[1], v[2]}, nil
}

// Detect runs `smolvm --version` and returns the version and its spelling.
func (r *Runner) Detect(ctx context.Context) (Version, Spelling, error) {
	out, err := r.run(ctx, Command{Args: []string{"--version"}})
	if err != nil {
		return Version{}, Spelling{}, err
	}
	v, err := ParseVersion(string(out))
	if err != nil {
		return Version{}, Spelling{}, err
	}
	sp, err := SpellingFor(v)
	if err != nil {
		return v, Spelling{}, err
	}
	return v, sp, nil
}
