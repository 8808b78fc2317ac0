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

// packStaging is the pack output path of an image digest under cacheDir;
// smolvm writes the stub there and the artifact at packStaging+suffix.
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

// packerName is the temporary machine an image digest is packed from.
func packerName(digest string) string {
	h := digestHex(digest)
	if len(h) > 12 {
		h = h[:12]
	}
	return "bottleplan-pack-" + h
}

// RolePack labels a packer machine, so a packer left behind by a killed
// apply can be told from a user's machine.
const RolePack = "pack"

// packerCreateCmd creates the packer machine from the image archive:
// networking off, the idle workload so the image's entrypoint never runs.
func packerCreateCmd(sp Spelling, name, archive string) Command {
	a := []string{"machine", "create", sp.Name, name, sp.Image, archive, sp.Label, LabelRole + "=" + RolePack, "--"}
	return Command{Args: append(a, IdleCommand...)}
}

// packCmd packs the stopped packer machine into output.
func packCmd(sp Spelling, packer, output string) Command {
	return Command{Args: []string{"pack", "create", sp.PackFromVM, packer, sp.PackOutput, output}}
}

// packCmds are the commands that turn an image archive into the cached
// artifact: create a packer machine from the archive, start it once so
// smolvm unpacks the image onto its disks, stop it (pack refuses a
// running machine), pack it, delete it.
func packCmds(sp Spelling, cacheDir string, img AgentImage) []Command {
	name := packerName(img.Digest)
	return []Command{
		packerCreateCmd(sp, name, img.Ref),
		startCmd(sp, name),
		stopCmd(sp, name),
		packCmd(sp, name, packStaging(cacheDir, img.Digest)),
		deleteCmd(sp, name),
	}
}

// createCmd creates the machine from the packed artifact (or, where the
// version cannot pack, from the image archive) with networking on
// (always explicit) through the virtio-net backend (always explicit: TSI
// does not enforce the allow list), the bundle /32 as the only allowed
// destination, DNS closed, resources, labels and literal env, and the
// idle workload.
func createCmd(sp Spelling, s Spec, source string) Command {
	from := sp.From
	if sp.PackFromVM == "" {
		from = sp.Image
	}
	a := []string{"machine", "create", sp.Name, s.Name, from, source,
		sp.Net, sp.NetBackend, sp.NetBackendVirtio, sp.AllowCIDR, s.AllowCIDR(), sp.AllowHost, s.BundleIP}
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

// cpCmd uploads the host file src to path in the guest. `machine cp`
// creates the parent directories itself (as root, in the guest agent):
// an `exec -- mkdir -p` first would run as the image's USER and fail on
// a non-root image.
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

// egressEventsCmd lists the egress denials smolvm recorded for name.
func egressEventsCmd(sp Spelling, name string) Command {
	return Command{Args: []string{"machine", sp.EgressEvents, sp.Name, name, sp.JSON, sp.Limit, strconv.Itoa(egressEventsLimit)}}
}

// probeCmd runs the probe binary in the guest on targets (JSON).
func probeCmd(sp Spelling, name, targets string) Command {
	return Command{Args: []string{"machine", "exec", sp.Name, name, "--", ProbePath, "probe", targets}}
}

// InteractiveCmd runs argv in the machine with stdin attached and, with
// tty, a terminal: what `bottleplan attach` and `exec` run.
func InteractiveCmd(sp Spelling, name string, tty bool, argv []string) Command {
	a := []string{"machine", "exec", sp.Name, name, sp.Interactive}
	if tty {
		a = append(a, sp.TTY)
	}
	a = append(a, "--")
	return Command{Args: append(a, argv...)}
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
