// Command standin is the stand-in base image of the recipe tests: a
// static program, at /bin/sh in a FROM scratch image, that plays the
// commands the agent recipe (agentimage/agent.Dockerfile) runs, so the
// production recipe builds here, where no registry or package mirror
// answers:
//
//   - sh -c "a && b": runs each command of an && list with the builtins
//     below (or a program on PATH), stopping at the first failure;
//   - apt-get update | install PKG...: records the packages under
//     /var/lib/standin/apt (nothing is fetched);
//   - npm install --global PKG@VERSION: installs the agent CLI as a copy
//     of this program, named after the package (claude, codex), and
//     records PKG@VERSION in /usr/local/lib/standin/PKG; npm cache ...:
//     nothing;
//   - useradd [--create-home] NAME: appends NAME to /etc/passwd and
//     /etc/group and makes its home;
//   - rm -rf PATH..., echo ARG..., exit N, true, false.
//
// Run as claude or codex (the agent), it prints "stand-in NAME ready"
// and then, for every line it reads, "echo: LINE"; it exits 0 at the
// end of its input.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

func main() { os.Exit(run(filepath.Base(os.Args[0]), os.Args[1:])) }

// clis are the npm packages the recipe installs, by the command each
// provides.
var clis = map[string]string{
	"@anthropic-ai/claude-code": "claude",
	"@openai/codex":             "codex",
}

func run(name string, args []string) int {
	switch name {
	case "sh":
		if len(args) == 2 && args[0] == "-c" {
			return script(args[1])
		}
		fmt.Fprintln(os.Stderr, "stand-in sh: only sh -c SCRIPT")
		return 2
	case "claude", "codex":
		return agent(name)
	case "apt-get":
		return aptGet(args)
	case "npm":
		return npm(args)
	case "useradd":
		return useradd(args)
	case "rm":
		for _, a := range args {
			if !strings.HasPrefix(a, "-") {
				os.RemoveAll(a)
			}
		}
		return 0
	case "echo":
		fmt.Println(strings.Join(args, " "))
		return 0
	case "true":
		return 0
	case "false":
		return 1
	case "exit":
		if len(args) == 0 {
			return 0
		}
		n, _ := strconv.Atoi(args[0])
		return n
	}
	cmd := exec.Command(name, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "stand-in sh: %s: %v\n", name, err)
		return 127
	}
	return 0
}

// script runs an && list of simple commands; ";" separates lists.
func script(s string) int {
	code := 0
	for _, list := range strings.Split(s, ";") {
		for _, c := range strings.Split(list, "&&") {
			argv := words(c)
			if len(argv) == 0 {
				continue
			}
			if code = run(argv[0], argv[1:]); code != 0 || argv[0] == "exit" {
				if argv[0] == "exit" {
					return code
				}
				break
			}
		}
	}
	return code
}

// words splits a command into words, with single and double quotes,
// expanding $NAME and ${NAME} outside single quotes.
func words(s string) []string {
	var out []string
	var cur strings.Builder
	in, quote := false, rune(0)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '$' && quote != '\'' && i+1 < len(rs):
			j, name := i+1, ""
			if rs[j] == '{' {
				k := j + 1
				for k < len(rs) && rs[k] != '}' {
					k++
				}
				name, i = string(rs[j+1:k]), k
			} else {
				k := j
				for k < len(rs) && (rs[k] == '_' || rs[k] >= 'A' && rs[k] <= 'Z' || rs[k] >= 'a' && rs[k] <= 'z' || rs[k] >= '0' && rs[k] <= '9') {
					k++
				}
				name, i = string(rs[j:k]), k-1
			}
			cur.WriteString(os.Getenv(name))
			in = true
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

func agent(name string) int {
	fmt.Printf("stand-in %s ready\n", name)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		fmt.Printf("echo: %s\n", strings.TrimRight(sc.Text(), "\r"))
	}
	return 0
}

func aptGet(args []string) int {
	if len(args) == 0 {
		return 1
	}
	switch args[0] {
	case "update":
		fmt.Println("stand-in apt-get: update (nothing fetched)")
		return 0
	case "install":
		dir := "/var/lib/standin/apt"
		os.MkdirAll(dir, 0o755)
		for _, p := range args[1:] {
			if !strings.HasPrefix(p, "-") {
				os.WriteFile(filepath.Join(dir, p), nil, 0o644)
				fmt.Println("stand-in apt-get: installed", p)
			}
		}
		return 0
	}
	fmt.Fprintln(os.Stderr, "stand-in apt-get: unknown", args[0])
	return 100
}

func npm(args []string) int {
	if len(args) > 0 && args[0] == "cache" {
		return 0
	}
	if len(args) == 0 || args[0] != "install" {
		fmt.Fprintln(os.Stderr, "stand-in npm: only install and cache")
		return 1
	}
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "-") {
			continue
		}
		i := strings.LastIndex(a, "@")
		if i <= 0 {
			fmt.Fprintln(os.Stderr, "stand-in npm: want PKG@VERSION, got", a)
			return 1
		}
		pkg, version := a[:i], a[i+1:]
		bin, ok := clis[pkg]
		if !ok || version == "" {
			fmt.Fprintf(os.Stderr, "stand-in npm: 404 Not Found: %s\n", a)
			return 1
		}
		self, err := os.ReadFile("/proc/self/exe")
		if err == nil {
			os.MkdirAll("/usr/local/bin", 0o755)
			err = os.WriteFile("/usr/local/bin/"+bin, self, 0o755)
		}
		if err == nil {
			os.MkdirAll("/usr/local/lib/standin", 0o755)
			err = os.WriteFile("/usr/local/lib/standin/"+strings.ReplaceAll(pkg, "/", "_"), []byte(a+"\n"), 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "stand-in npm:", err)
			return 1
		}
		fmt.Println("stand-in npm: added", a)
	}
	return 0
}

func useradd(args []string) int {
	name, home := "", false
	for _, a := range args {
		switch {
		case a == "--create-home" || a == "-m":
			home = true
		case !strings.HasPrefix(a, "-"):
			name = a
		}
	}
	if name == "" {
		return 2
	}
	passwd, _ := os.ReadFile("/etc/passwd")
	uid := 1000 + strings.Count(string(passwd), "\n")
	dir := "/home/" + name
	if err := appendLine("/etc/passwd", fmt.Sprintf("%s:x:%d:%d::%s:/bin/sh", name, uid, uid, dir)); err != nil {
		fmt.Fprintln(os.Stderr, "stand-in useradd:", err)
		return 1
	}
	if err := appendLine("/etc/group", fmt.Sprintf("%s:x:%d:", name, uid)); err != nil {
		fmt.Fprintln(os.Stderr, "stand-in useradd:", err)
		return 1
	}
	if home {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return 1
		}
		os.Chown(dir, uid, uid)
	}
	return 0
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = io.WriteString(f, line+"\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
