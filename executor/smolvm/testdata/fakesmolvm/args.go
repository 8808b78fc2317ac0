package main

import (
	"fmt"
	"strings"
)

// commands are the argument definitions of smolvm v1.9.3 for the
// subcommands the fake answers, read from the clap structs in
// src/cli/machine.rs and src/cli/pack.rs (ProxyOpts from
// src/cli/proxy_opts.rs). Notation as in ../smolvm-cli.json: "-s,--long="
// takes a value, "-s,--long" is a switch, " (hidden)" is left out of
// --help, "pos:NAME" is a positional, "command:NAME" the trailing command.
// TestFakeMatchesRecordedCLI compares them with the recorded table.
var commands = map[string][]string{
	"pack create": {
		"-I,--image=", "--from-vm=", "--rebase-from-image", "-o,--output=", "--cpus=", "--mem=",
		"--oci-platform=", "--entrypoint=", "--no-sign", "--single-file", "--stub= (hidden)",
		"--lib-dir= (hidden)", "--rootfs-dir= (hidden)", "-s,--smolfile=", "--gpu", "--staging-dir=",
		"--proxy=", "--no-proxy=",
	},
	"machine create": {
		"-n,--name=", "--label=", "-I,--image=", "--max-image-size=", "--cpus=", "--mem=", "--storage=",
		"--overlay=", "-v,--volume=", "-p,--port=", "--net", "--net-backend=", "--dns=", "--network=",
		"--allow-cidr=", "--allow-host=", "--outbound-localhost-only", "--gpu", "--gpu-vram=", "--rosetta",
		"--expose-socket=", "--mount-socket=", "--init=", "-e,--env=", "-w,--workdir=", "--ssh-agent",
		"--cuda", "--auto-graph", "--docker-socket", "--secret-env=", "--secret-file=", "-s,--smolfile=",
		"--from=", "command:COMMAND",
	},
	"machine start": {
		"-n,--name=", "--forkable", "--fork-pool-size=", "--cuda-vram-limit-mib=", "--proxy=", "--no-proxy=",
	},
	"machine stop":   {"-n,--name="},
	"machine delete": {"-n,--name=", "-f,--force", "--cascade"},
	"machine ls":     {"-v,--verbose", "--json"},
	"machine exec": {
		"command:COMMAND", "--name=", "-w,--workdir=", "-e,--env=", "--secret-env=", "--secret-file=",
		"--timeout=", "-i,--interactive", "-t,--tty", "--stream", "-d,--detach",
	},
	"machine cp":            {"pos:SRC", "pos:DST", "--mode=", "--uid=", "--gid="},
	"machine egress-events": {"-n,--name=", "--limit=", "--json"},
}

// modelled are the flags (by long name) the fake acts on; any other
// defined flag is refused as unmodelled.
var modelled = map[string][]string{
	"pack create":           {"image", "from-vm", "output"},
	"machine create":        {"name", "label", "image", "cpus", "mem", "net", "net-backend", "allow-cidr", "allow-host", "env", "secret-env", "from"},
	"machine start":         {"name"},
	"machine stop":          {"name"},
	"machine delete":        {"name", "force"},
	"machine ls":            {"json", "verbose"},
	"machine exec":          {"name", "env", "secret-env", "interactive", "tty", "detach"},
	"machine cp":            {"mode"},
	"machine egress-events": {"name", "limit", "json"},
}

// arg is one parsed definition.
type arg struct {
	short, long string
	value       bool
	hidden      bool
	positional  string // pos:NAME
	command     string // command:NAME
}

func parseDef(d string) arg {
	var a arg
	if n, ok := strings.CutPrefix(d, "pos:"); ok {
		a.positional = n
		return a
	}
	if n, ok := strings.CutPrefix(d, "command:"); ok {
		a.command = n
		return a
	}
	d, a.hidden = strings.CutSuffix(d, " (hidden)")
	d, a.value = strings.CutSuffix(d, "=")
	for _, n := range strings.Split(d, ",") {
		if l, ok := strings.CutPrefix(n, "--"); ok {
			a.long = l
		} else {
			a.short = strings.TrimPrefix(n, "-")
		}
	}
	return a
}

// flags are parsed arguments: values by long name in order, switches, the
// positionals and the trailing command.
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

// parse reads args as clap would with the definitions of verb: --long,
// --long=value, -s; a trailing command after "--" (or, for a
// trailing_var_arg command, from the first positional on).
func parse(verb string, defs []string, args []string) (flags, error) {
	f := flags{vals: map[string][]string{}, bools: map[string]bool{}}
	byName := map[string]arg{}
	hasCommand, npos := false, 0
	for _, d := range defs {
		a := parseDef(d)
		switch {
		case a.command != "":
			hasCommand = true
		case a.positional != "":
			npos++
		default:
			if a.long != "" {
				byName["--"+a.long] = a
			}
			if a.short != "" {
				byName["-"+a.short] = a
			}
		}
	}
	ok := map[string]bool{}
	for _, n := range modelled[verb] {
		ok[n] = true
	}
	for i := 0; i < len(args); i++ {
		s := args[i]
		if s == "--" {
			if !hasCommand {
				return f, usageError{fmt.Sprintf("unexpected argument '--' found in `%s`", verb)}
			}
			f.command = args[i+1:]
			break
		}
		name, inline, hasInline := strings.Cut(s, "=")
		if !strings.HasPrefix(s, "--") {
			name, hasInline = s, false
		}
		a, known := byName[name]
		if !known {
			if strings.HasPrefix(s, "-") && s != "-" {
				return f, usageError{fmt.Sprintf("unexpected argument '%s' found in `%s`", s, verb)}
			}
			if len(f.pos) < npos {
				f.pos = append(f.pos, s)
				continue
			}
			if hasCommand && verb == "machine exec" {
				f.command = args[i:]
				break
			}
			return f, usageError{fmt.Sprintf("unexpected argument '%s' found in `%s`", s, verb)}
		}
		if !ok[a.long] {
			return f, unmodelled{name, verb}
		}
		if !a.value {
			if hasInline {
				return f, usageError{fmt.Sprintf("unexpected value '%s' for '%s' found; no more were expected", inline, name)}
			}
			f.bools[a.long] = true
			continue
		}
		if !hasInline {
			if i+1 >= len(args) {
				return f, usageError{fmt.Sprintf("a value is required for '%s' but none was supplied", name)}
			}
			inline = args[i+1]
			i++
		}
		f.vals[a.long] = append(f.vals[a.long], inline)
	}
	return f, nil
}

// help prints the definitions of verb as clap's --help lays them out:
// Arguments, then Options (hidden ones left out, -h/--help last).
func help(verb string, defs []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: smolvm %s [OPTIONS]\n\nArguments:\n", verb)
	for _, d := range defs {
		a := parseDef(d)
		switch {
		case a.positional != "":
			fmt.Fprintf(&b, "  <%s>\n", a.positional)
		case a.command != "":
			fmt.Fprintf(&b, "  [%s]...\n", a.command)
		}
	}
	b.WriteString("\nOptions:\n")
	for _, d := range defs {
		a := parseDef(d)
		if a.positional != "" || a.command != "" || a.hidden {
			continue
		}
		short := "   "
		if a.short != "" {
			short = "-" + a.short + ","
		}
		line := "  " + short
		if a.long != "" {
			line += " --" + a.long
		}
		if a.value {
			line += " <" + strings.ToUpper(strings.ReplaceAll(a.long, "-", "_")) + ">"
		}
		b.WriteString(line + "\n")
	}
	b.WriteString("  -h, --help\n")
	return b.String()
}
