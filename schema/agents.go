package schema

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"unicode/utf8"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/token"
)

// MaxPromptBytes bounds a prompt_file.
const MaxPromptBytes = 256 << 10

// maxDockerfileBytes bounds a Dockerfile read for its digest.
const maxDockerfileBytes = 4 << 20

// rawAgent is an agent as written, decoded after CUE validation.
type rawAgent struct {
	Bottle     string   `json:"bottle"`
	Skills     []string `json:"skills"`
	Prompt     *string  `json:"prompt"`
	PromptFile *string  `json:"prompt_file"`
	Command    []string `json:"command"`
	GitGate    *struct {
		User *GitUser `json:"user"`
	} `json:"git_gate"`
}

// checkAgent checks an agent's cross references and reads its prompt
// file. names holds every bottle name written.
func (l *loader) checkAgent(name string, ra *rawAgent, names map[string]bool) *Agent {
	base := sels("agents", name)
	n := len(l.errs)
	a := &Agent{Name: name, Bottle: ra.Bottle, Skills: ra.Skills, Command: ra.Command}
	if a.Skills == nil {
		a.Skills = []string{}
	}
	// An empty Bottle is missing or invalid, reported by then.
	if ra.Bottle != "" && !names[ra.Bottle] {
		p := with(base, "bottle")
		msg := fmt.Sprintf("bottle %q does not exist", ra.Bottle)
		if s := suggest(ra.Bottle, slices.Sorted(maps.Keys(names))); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		l.errorf(l.valuePos(p), p, "%s", msg)
	}
	if ra.GitGate != nil && ra.GitGate.User != nil {
		a.GitUser = *ra.GitGate.User
	}
	switch {
	case ra.Prompt != nil && ra.PromptFile != nil:
		p := with(base, "prompt_file")
		l.errorf(l.valuePos(p), p, "prompt and prompt_file are exclusive: set one")
	case ra.Prompt != nil:
		a.Prompt = *ra.Prompt
	case ra.PromptFile != nil:
		p := with(base, "prompt_file")
		if rel, data, ok := l.readRelFile(p, *ra.PromptFile, MaxPromptBytes); ok {
			if bytes.IndexByte(data, 0) >= 0 || !utf8.Valid(data) {
				l.errorf(l.valuePos(p), p, "prompt file %q is not UTF-8 text", *ra.PromptFile)
			} else {
				a.Prompt, a.PromptFile = string(data), rel
			}
		}
	}
	if len(l.errs) > n || ra.Bottle == "" {
		return nil
	}
	return a
}

// readRelFile reads the file named by the value at p, relative to the
// file that writes it. limit bounds its size (0: maxDockerfileBytes). It
// returns the path relative to the manifest root, slash-separated.
func (l *loader) readRelFile(p []cue.Selector, name string, limit int) (string, []byte, bool) {
	pos := l.valuePos(p)
	if filepath.IsAbs(name) || filepath.IsAbs(filepath.FromSlash(name)) {
		l.errorf(pos, p, "%q is absolute: write it relative to the manifest file", name)
		return "", nil, false
	}
	abs, rel := l.fromFile(pos, name)
	kind := "dockerfile"
	if limit > 0 {
		kind = "prompt file"
	} else {
		limit = maxDockerfileBytes
	}
	f, err := os.Open(abs)
	if err != nil {
		l.errorf(pos, p, "%s %q: %s (paths are relative to the file that names them)", kind, name, statMessage(err))
		return "", nil, false
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		l.errorf(pos, p, "%s %q is a directory", kind, name)
		return "", nil, false
	}
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		l.errorf(pos, p, "%s %q: %v", kind, name, err)
		return "", nil, false
	}
	if len(data) > limit {
		l.errorf(pos, p, "%s %q is larger than %d KiB", kind, name, limit>>10)
		return "", nil, false
	}
	return rel, data, true
}

// fromFile resolves name, a relative path written in the file of pos,
// to its absolute host path and to the slash-separated path relative to
// the manifest root that plans hold (the absolute path when it has no
// relative form).
func (l *loader) fromFile(pos token.Pos, name string) (abs, rel string) {
	dir, ok := l.dirs[pos.Filename()]
	if !ok {
		dir = l.root
	}
	abs = filepath.Join(dir, filepath.FromSlash(name))
	r, err := filepath.Rel(l.root, abs)
	if err != nil {
		return abs, filepath.ToSlash(abs)
	}
	return abs, filepath.ToSlash(r)
}

// digest is "sha256:<hex>" of data.
func digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// checkSharedPins reports agents that would share a pinned subnet. A
// subnet holds one instance, so two agents whose bottles resolve to the
// same pin (one bottle, or a child that inherits its parent's
// network) cannot both be planned; the compiler refuses them too, but
// here the error gets its position. The first agent by name keeps the
// subnet; each later one is reported at its `bottle`.
func (l *loader) checkSharedPins(m *Manifest) {
	owner := map[string]string{} // pinned subnet -> first agent
	for _, name := range slices.Sorted(maps.Keys(m.Agents)) {
		a := m.Agents[name]
		b := m.Bottles[a.Bottle]
		if b == nil || b.Network.Subnet == "" {
			continue
		}
		first, taken := owner[b.Network.Subnet]
		if !taken {
			owner[b.Network.Subnet] = name
			continue
		}
		p := sels("agents", name, "bottle")
		l.errorf(l.valuePos(p), p, "agents %q and %q would share the pinned subnet %s of bottle %q, and a subnet holds one instance: give %q its own bottle (extending %q) with its own network.subnet",
			first, name, b.Network.Subnet, a.Bottle, name, a.Bottle)
	}
}
