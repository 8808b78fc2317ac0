package smolvm

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// The builders below are the only places that assemble smolvm argv. Each
// takes the Spelling of the detected version; nothing else spells a flag.

func versionCmd() Command { return Command{Args: []string{"--version"}} }

// packOutput is the pack output path of an image digest under cacheDir;
// smolvm writes the stub there and the artifact at packOutput+suffix.
func packStaging(cacheDir, digest string) string {
	return filepath.Join(cacheDir, ".staging-"+digestHex(digest), "agent")
}

// sidecarPath is where the cached artifact of digest lives.
func sidecarPath(sp Spelling, cacheDir, digest string) string {
	return filepath.Join(cacheDir, digestHex(digest)+sp.SidecarSuffix)
}

func digestHex(d string) string {
	_, hex, ok := strings.Cut(d, ":")
	if !ok {
		return d
	}
	return hex
}

func packCmd(sp Spelling, ref, output string) Command {
	return Command{Args: []string{"pack", "create", sp.PackImage, ref, sp.PackOutput, output}}
}

// createCmd creates the machine from the packed artifact with networking
// on (always explicit), the bundle /32 as the only allowed destination,
// resources, labels and literal env, and the idle workload.
func createCmd(sp Spelling, s Spec, sidecar string) Command {
	a := []string{"machine", "create", sp.Name, s.Name, sp.From, sidecar, sp.Net, sp.AllowCIDR, s.AllowCIDR()}
	if s.CPUs > 0 {
		a = append(a, sp.CPUs, strconv.Itoa(s.CPUs))
	}
	if s.MemoryMiB > 0 {
		a = append(a, sp.Mem, strconv.Itoa(s.MemoryMiB))
	}
	for _, kv := range sortedPairs(s.Labels()) {
		a = append(a, sp.Label, kv)
	}
	for _, kv := range sortedPairs(s.Env) {
		a = append(a, sp.Env, kv)
	}
	a = append(a, "--")
	a = append(a, IdleCommand...)
	return Command{Args: a}
}

func startCmd(sp Spelling, name string) Command {
	return Command{Args: []string{"machine", "start", sp.Name, name}}
}

// readyCmd is the readiness probe: a no-op in the guest.
func readyCmd(sp Spelling, name string) Command {
	return Command{Args: []string{"machine", "exec", sp.Name, name, "--", "true"}}
}

func lsCmd(sp Spelling) Command {
	return Command{Args: []string{"machine", "ls", sp.JSON}}
}

// launchCmd starts the agent in the background. Secrets ride on
// --secret-env GUEST=BOTTLEPLAN_SECRET_GUEST: smolvm resolves the host
// variable of its own process and hands the value to the guest.
func launchCmd(sp Spelling, s Spec) Command {
	a := []string{"machine", "exec", sp.Name, s.Name, sp.Detach}
	for _, sec := range s.Secrets {
		a = append(a, sp.SecretEnv, sec.Guest+"="+sec.envName())
	}
	a = append(a, "--")
	a = append(a, s.Command...)
	return Command{Args: a, Secrets: append([]Secret(nil), s.Secrets...)}
}

// mkdirCmd makes the parent directories of the guest files.
func mkdirCmd(sp Spelling, name string, dirs []string) Command {
	a := []string{"machine", "exec", sp.Name, name, "--", "mkdir", "-p"}
	return Command{Args: append(a, dirs...)}
}

// cpCmd uploads the host file src to path in the guest.
func cpCmd(sp Spelling, name, src, path string, mode uint32) Command {
	return Command{Args: []string{"machine", "cp", src, name + sp.CpSep + path, sp.CpMode, fmt.Sprintf("%o", mode)}}
}

// fileStaging is where guest file i of machine name is staged on the host.
func fileStaging(cacheDir, name string, i int) string {
	return filepath.Join(cacheDir, ".files-"+name, strconv.Itoa(i))
}

// LaunchedMarker is the guest file written once the agent was launched.
// A bottleplan killed between `machine start` and the launch leaves a
// running machine with the right labels but no agent; without the
// marker, the next apply would see it as in sync.
const LaunchedMarker = "/etc/bottleplan/launched"

// markerProbeCmd exits 0 when the launch marker exists.
func markerProbeCmd(sp Spelling, name string) Command {
	return Command{Args: []string{"machine", "exec", sp.Name, name, "--", "test", "-e", LaunchedMarker}}
}

// markerStaging is the empty host file copied to LaunchedMarker.
func markerStaging(cacheDir, name string) string {
	return filepath.Join(cacheDir, ".files-"+name, "launched")
}

func stopCmd(sp Spelling, name string) Command {
	return Command{Args: []string{"machine", "stop", sp.Name, name}}
}

func deleteCmd(sp Spelling, name string) Command {
	return Command{Args: []string{"machine", "delete", sp.Name, name, sp.Force}}
}

// sortedPairs renders m as sorted KEY=VALUE strings.
func sortedPairs(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
