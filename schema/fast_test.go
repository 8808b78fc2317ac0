package schema

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFastPathMatchesFull loads every manifest of the corpus, and YAML
// written to trip the fast path's splitter and decoders, on the fast path
// and on the full path (entry mode) and wants the same result. A fast
// path that accepted something the schema refuses, or decoded a value
// differently, shows here.
func TestFastPathMatchesFull(t *testing.T) {
	inputs := corpus(t)
	dir := t.TempDir()
	for name, body := range fastCases {
		writeFile(t, dir, name+".yaml", body)
		inputs["case-"+name] = input{dir, []string{name + ".yaml"}}
	}
	inputs["bench-100"] = input{".", []string{genManifest(t, t.TempDir(), 100)}}
	before := fastHits.Load()
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			fast := load(t, in.dir, in.paths, pathFast)
			full := load(t, in.dir, in.paths, pathEntry)
			if d := cmp.Diff(full, fast); d != "" {
				t.Errorf("fast path differs from the full path (-full +fast):\n%s", d)
			}
		})
	}
	// Every valid single-YAML case above is meant for the fast path.
	if hits := fastHits.Load() - before; hits < int64(len(fastValid))+3 {
		t.Errorf("the fast path loaded %d manifests, want at least %d", hits, len(fastValid)+3)
	}
}

// TestFastPathTaken checks that the valid cases are loaded by the fast
// path itself, not by the fallback.
func TestFastPathTaken(t *testing.T) {
	dir := t.TempDir()
	for _, name := range fastValid {
		t.Run(name, func(t *testing.T) {
			writeFile(t, dir, name+".yaml", fastCases[name])
			before := fastHits.Load()
			if _, err := LoadWith(Options{Dir: dir}, name+".yaml"); err != nil {
				t.Fatal(err)
			}
			if fastHits.Load() == before {
				t.Errorf("%s took the full path", name)
			}
		})
	}
}

// fastValid are the cases the fast path must take.
var fastValid = []string{"full", "comments", "bools", "quoted", "defaults", "multiline", "many", "supervise"}

const fastHead = "version: 1\nproject: p\n"

// fastCases are manifests for the fast path: valid ones in every form it
// takes (fastValid), and invalid or unusual ones it must hand to the full
// path.
var fastCases = map[string]string{
	"supervise": fastHead + `bottles:
  on: {supervise: true}
  empty: {supervise: {}}
  timed: {supervise: {hold_timeout: 90s}}
  child: {extends: timed, supervise: true}
  off: {extends: timed, supervise: false}
agents:
  a: {bottle: on}
`,
	"supervise-short": fastHead + `bottles:
  b: {supervise: {hold_timeout: 5s}}
agents:
  a: {bottle: b}
`,
	"supervise-unknown-key": fastHead + `bottles:
  b: {supervise: {hold: 5m}}
agents:
  a: {bottle: b}
`,
	"full": fastHead + `defaults:
  backend: smolmachines
  address_pool: 10.20.0.0/16
  subnet_prefix: 27
bottles:
  base:
    agent_provider: {template: codex, auth_token: OPENAI_KEY, image: img:1}
    supervise: false
  dev:
    extends: base
    env: {A: x, B: "${HOME_B}", C: "?ask", D: ""}
    git_gate:
      user: {name: bot, email: b@example.com}
      repos:
        app: {url: "ssh://git@h.example.com/a.git", key: {provider: static, path: ~/.ssh/k}, host_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"}
        docs: {url: "https://h.example.com/d.git", key: {provider: token, token_ref: T}, access: read}
    egress:
      routes:
        - host: api.example.com
          ports: [443, 8443]
          auth: {scheme: token, token_ref: TOK}
          matches:
            - paths: [{type: exact, value: /x}, {type: prefix, value: /}]
              methods: [GET, HEAD, OPTIONS]
            - {}
          dlp: {outbound_on_match: supervise}
          websocket: true
        - host: "*.example.org"
          matches: []
          websocket: false
        - host: b.example.com
          dlp: {}
    supervise: true
    network: {subnet: 10.99.0.0/28}
    resources: {cpus: 64, memory_mib: 256, pids: 65536}
    runtime: runsc
    backend: docker
  other:
    egress: {}
    git_gate: {}
    resources: {}
    network: {}
    env: {}
agents:
  a1: {bottle: dev, skills: [], prompt: "", command: [sh, -c, ""], git_gate: {user: {email: x@example.com}}}
  a2:
    bottle: other
    skills: [s1, s2]
    git_gate: {}
`,
	"comments": `# head
version: 1 # trailing

bottles:
# between
  b1: # after key
    # inside
    env:
      A: "1"

  # between entries
  b2: {}
# before agents
agents:
  a1: {bottle: b1}
# tail
`,
	"flow":         fastHead + "bottles: {b1: {}}\nagents: {a1: {bottle: b1}}\n",
	"bools":        fastHead + "bottles:\n  b1: {supervise: True}\n  b2: {supervise: FALSE}\nagents:\n  a1: {bottle: b1}\n",
	"quoted":       fastHead + "bottles:\n  b1:\n    env: {\"A\": '01', B: \"true\", C: '1.5', D: 'null'}\nagents:\n  a1: {\"bottle\": b1}\n",
	"quoted-entry": fastHead + "bottles:\n  'b1': {}\nagents:\n  a1: {bottle: b1}\n",
	"defaults":     "version: 1\nbottles:\n  b1:\n    git_gate: {repos: {r: {url: \"https://h.example.com/r.git\", key: {provider: token, token_ref: T}}}}\nagents:\n  a1: {bottle: b1}\n",
	"multiline":    fastHead + "bottles:\n  b1:\n    env:\n      A: |\n        line one\n        line two\n      B: >-\n        folded\n        text\n      C: plain\n        continued\nagents:\n  a1:\n    bottle: b1\n    prompt: \"a\n      b\"\n",
	"many":         manyEntries(3 * fastChunk),

	"websocket-string": fastHead + "bottles:\n  b1: {egress: {routes: [{host: a.example.com, websocket: \"yes\"}]}}\nagents:\n  a1: {bottle: b1}\n",
	"pids-low":         fastHead + "bottles:\n  b1: {resources: {pids: 63}}\nagents:\n  a1: {bottle: b1}\n",
	"pids-high":        fastHead + "bottles:\n  b1: {resources: {pids: 65537}}\nagents:\n  a1: {bottle: b1}\n",
	"pids-min":         fastHead + "bottles:\n  b1: {resources: {pids: 64}}\nagents:\n  a1: {bottle: b1}\n",
	"anchor":           fastHead + "bottles:\n  b1: &x {}\n  b2: *x\nagents:\n  a1: {bottle: b1}\n",
	"anchor-across":    fastHead + "bottles:\n  b1:\n    env: &e {A: x}\nagents:\n  a1: {bottle: b1}\n",
	"merge":            fastHead + "bottles:\n  b1: {env: {A: x}}\n  b2:\n    <<: {env: {A: x}}\nagents:\n  a1: {bottle: b1}\n",
	"tagged":           fastHead + "bottles:\n  b1: {env: {A: !!str 1}}\nagents:\n  a1: {bottle: b1}\n",
	"int-string":       fastHead + "bottles:\n  b1: {env: {A: 1}}\nagents:\n  a1: {bottle: b1}\n",
	"octal":            fastHead + "bottles:\n  b1: {resources: {cpus: 010}}\nagents:\n  a1: {bottle: b1}\n",
	"hex":              fastHead + "bottles:\n  b1: {resources: {cpus: 0x10}}\nagents:\n  a1: {bottle: b1}\n",
	"float":            fastHead + "bottles:\n  b1: {resources: {cpus: 2.0}}\nagents:\n  a1: {bottle: b1}\n",
	"yes":              fastHead + "bottles:\n  b1: {supervise: yes}\nagents:\n  a1: {bottle: b1}\n",
	"null":             fastHead + "bottles:\n  b1:\nagents:\n  a1: {bottle: b1}\n",
	"tilde":            fastHead + "bottles:\n  b1: {egress: ~}\nagents:\n  a1: {bottle: b1}\n",
	"timestamp":        fastHead + "bottles:\n  b1: {env: {A: 2001-12-14}}\nagents:\n  a1: {bottle: b1}\n",
	"dup-entry":        fastHead + "bottles:\n  b1: {}\n  b1: {supervise: true}\nagents:\n  a1: {bottle: b1}\n",
	"dup-far":          fastHead + "bottles:\n" + strings.Repeat("  b1: {}\n", 1) + manyBottles(2*fastChunk) + "  b1: {}\nagents:\n  a1: {bottle: b1}\n",
	"dup-field":        fastHead + "bottles:\n  b1:\n    supervise: true\n    supervise: false\nagents:\n  a1: {bottle: b1}\n",
	"dup-top":          fastHead + "bottles:\n  b1: {}\nagents:\n  a1: {bottle: b1}\nbottles:\n  b2: {}\n",
	"unknown":          fastHead + "bottles:\n  b1: {egres: {}}\nagents:\n  a1: {bottle: b1}\n",
	"bad-name":         fastHead + "bottles:\n  B1: {}\nagents:\n  a1: {bottle: B1}\n",
	"no-bottle":        fastHead + "bottles:\n  b1: {}\nagents:\n  a1: {bottle: b2}\n",
	"no-version":       "bottles:\n  b1: {}\nagents:\n  a1: {bottle: b1}\n",
	"version-2":        "version: 2\nbottles:\n  b1: {}\nagents:\n  a1: {bottle: b1}\n",
	"empty-map":        fastHead + "bottles:\nagents:\n  a1: {bottle: b1}\n",
	"less-indent":      fastHead + "bottles:\n    b1: {}\n  b2: {}\nagents:\n  a1: {bottle: b1}\n",
	"split-quote":      fastHead + "bottles:\n  b1:\n    env: {A: \"x\n  b2: y\"}\nagents:\n  a1: {bottle: b1}\n",
	"split-flow":       fastHead + "bottles:\n  b1: {env: {A: x,\n  b2: y}}\nagents:\n  a1: {bottle: b1}\n",
	"documents":        fastHead + "bottles:\n  b1: {}\nagents:\n  a1: {bottle: b1}\n---\nversion: 1\n",
	"tabs":             fastHead + "bottles:\n  b1: {env: {A: \"a\tb\"}}\nagents:\n  a1: {bottle: b1}\n",
	"crlf":             strings.ReplaceAll(fastHead+"bottles:\n  b1: {}\nagents:\n  a1: {bottle: b1}\n", "\n", "\r\n"),
	"empty-command":    fastHead + "bottles:\n  b1: {}\nagents:\n  a1: {bottle: b1, command: []}\n",
	"empty-ports":      fastHead + "bottles:\n  b1: {egress: {routes: [{host: a.example.com, ports: []}]}}\nagents:\n  a1: {bottle: b1}\n",
	"port-range":       fastHead + "bottles:\n  b1: {egress: {routes: [{host: a.example.com, ports: [0]}]}}\nagents:\n  a1: {bottle: b1}\n",
	"host-ip-short":    fastHead + "bottles:\n  b1: {egress: {routes: [{host: \"127.1\"}, {host: \"0x7f000001\"}]}}\nagents:\n  a1: {bottle: b1}\n",
	"host-ip-plain":    fastHead + "bottles:\n  b1: {egress: {routes: [{host: 127.1}, {host: 2130706433}]}}\nagents:\n  a1: {bottle: b1}\n",
	"path-value":       fastHead + "bottles:\n  b1: {egress: {routes: [{host: a.example.com, matches: [{paths: [{type: prefix, value: x}]}]}]}}\nagents:\n  a1: {bottle: b1}\n",
	"repo-no-key":      fastHead + "bottles:\n  b1: {git_gate: {repos: {r: {url: \"https://h.example.com/r.git\"}}}}\nagents:\n  a1: {bottle: b1}\n",
	"key-absolute":     fastHead + "bottles:\n  b1: {git_gate: {repos: {r: {url: \"git@h.example.com:r.git\", key: {provider: static, path: /k}}}}}\nagents:\n  a1: {bottle: b1}\n",
	"empty-image":      fastHead + "bottles:\n  b1: {agent_provider: {image: \"\"}}\nagents:\n  a1: {bottle: b1}\n",
	"env-name":         fastHead + "bottles:\n  b1: {env: {1A: x}}\nagents:\n  a1: {bottle: b1}\n",
	"reserved-env":     fastHead + "bottles:\n  b1: {env: {HTTPS_PROXY: x}}\nagents:\n  a1: {bottle: b1}\n",
	"extends-cycle":    fastHead + "bottles:\n  b1: {extends: b2}\n  b2: {extends: b1}\nagents:\n  a1: {bottle: b1}\n",
	"overlap":          fastHead + "bottles:\n  b1: {network: {subnet: 10.1.0.0/28}}\n  b2: {network: {subnet: 10.1.0.0/28}}\nagents:\n  a1: {bottle: b1}\n",
	"bad-pool":         "version: 1\ndefaults: {address_pool: 8.8.8.0/24}\nbottles:\n  b1: {}\nagents:\n  a1: {bottle: b1}\n",
	"prefix":           "version: 1\ndefaults: {subnet_prefix: 30}\nbottles:\n  b1: {}\nagents:\n  a1: {bottle: b1}\n",
	"backend":          "version: 1\ndefaults: {backend: podman}\nbottles:\n  b1: {}\nagents:\n  a1: {bottle: b1}\n",
	"prompt-both":      fastHead + "bottles:\n  b1: {}\nagents:\n  a1: {bottle: b1, prompt: x, prompt_file: p.md}\n",
	"prompt-file":      fastHead + "bottles:\n  b1: {}\nagents:\n  a1: {bottle: b1, prompt_file: missing.md}\n",
	"top-list":         "- version: 1\n",
	"entry-list":       fastHead + "bottles:\n  - b1\nagents:\n  a1: {bottle: b1}\n",
	"question-key":     fastHead + "bottles:\n  ? b1\n  : {}\nagents:\n  a1: {bottle: b1}\n",
}

// manyBottles writes n bottles, enough to fill several chunks.
func manyBottles(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "  m%d:\n    env: {N: \"%d\"}\n", i, i)
	}
	return b.String()
}

// manyEntries is a valid manifest of n bottles and agents.
func manyEntries(n int) string {
	var b strings.Builder
	b.WriteString(fastHead + "bottles:\n" + manyBottles(n) + "agents:\n")
	for i := range n {
		fmt.Fprintf(&b, "  a%d: {bottle: m%d}\n", i, i)
	}
	return b.String()
}
