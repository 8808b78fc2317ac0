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
// fields this package relies on. Every version-specific string lives here
// and nowhere else; an empty field means the range has no such feature.
type Spelling struct {
	// Name selects the machine on every machine subcommand.
	Name string
	// From creates a machine from a packed .smolmachine artifact.
	From string
	// Net turns networking on. Always passed: networking is off without it
	// (docs/smolvm.md, "the --net pitfall").
	Net string
	// AllowCIDR adds one CIDR to the egress allow list.
	AllowCIDR string
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
	// Detach makes `machine exec` start the command in the background.
	Detach string
	// Force skips the confirmation prompt of `machine delete`.
	Force string
	// PackImage and PackOutput are `pack create`'s image and output flags.
	PackImage, PackOutput string
	// SidecarSuffix is appended to the pack output path for the artifact
	// `machine create --from` takes.
	SidecarSuffix string
	// JSON is the flag that makes `machine ls` print JSON.
	JSON string
	// CpMode sets an uploaded file's mode on `machine cp`; CpSep joins
	// the machine name and guest path of its destination (name:path).
	CpMode, CpSep string

	// LsNetwork, LsAllowList, LsLabels and LsState are the keys of one
	// machine object in `machine ls --json`.
	LsNetwork, LsAllowList, LsLabels, LsState string
	// StateRunning is the LsState value of a running machine.
	StateRunning string
}

// release is one row of the version table: [Min, Below) share a Spelling.
type release struct {
	Min, Below Version
	Spelling   Spelling
}

// releases is the version table. A smolvm outside every row is refused.
//
// 1.16.0 is the first release with the egress allow list qualified by a
// third party (SmolBox), and by then `machine create` had --label (smolvm
// PR #899) and --secret-env (PR #352). 2.0.0 is excluded until someone
// checks it: a major release may rename what this package depends on.
var releases = []release{
	{
		Min:   Version{1, 16, 0},
		Below: Version{2, 0, 0},
		Spelling: Spelling{
			Name:          "--name",
			From:          "--from",
			Net:           "--net",
			AllowCIDR:     "--allow-cidr",
			Env:           "-e",
			Label:         "--label",
			CPUs:          "--cpus",
			Mem:           "--mem",
			SecretEnv:     "--secret-env",
			Detach:        "-d",
			Force:         "-f",
			PackImage:     "--image",
			PackOutput:    "-o",
			SidecarSuffix: ".smolmachine",
			JSON:          "--json",
			CpMode:        "--mode",
			CpSep:         ":",
			LsNetwork:     "network",
			LsAllowList:   "allowed_cidrs",
			LsLabels:      "labels",
			LsState:       "state",
			StateRunning:  "running",
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
	return Spelling{}, fmt.Errorf("smolvm %s is not supported (supported: %s); install a supported release or set the smolvm path to one", v, SupportedRange())
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
