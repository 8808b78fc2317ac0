package schema

import (
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/token"
	"golang.org/x/crypto/ssh"
)

// Lints: policy mistakes the schema accepts but that fail later, or
// never, found at validate and positioned like every other problem.
//
// Errors (the manifest is not valid):
//   - an ssh repo without a host_key the git gate can parse. The gate
//     trusts no ssh host on first use, so without one every fetch fails
//     at run time. The key is parsed with golang.org/x/crypto/ssh's
//     ParseAuthorizedKey, the very function the gate uses (bundle/gitssh.go),
//     so validate and the gate agree on what a host key is;
//   - an env value "${X}" where X is a token the bundle injects: a
//     route's auth.token_ref, the provider's auth_token, or a repo's
//     key.token_ref. It would hand the agent the secret the proxy and the
//     gate exist to keep from it.
//
// Warnings (Manifest.Warnings; errors with Options.Strict):
//   - a wildcard route with auth: the token goes to every subdomain;
//   - a route with auth to the host of a git repo: the agent could push
//     over HTTPS with that token, around the gate's access rule;
//   - an ssh key file that does not exist on this host (apply would fail);
//   - a child bottle whose egress or git_gate.repos (replaced whole) drops
//     routes or repos its parent has, or whose env (merged per key)
//     replaces a value its parent sets. The review marks such sections
//     "replaces parent's" (Bottle.Replaces).

// warnf records a warning at pos.
func (l *loader) warnf(pos token.Pos, path []cue.Selector, format string, args ...any) {
	w := posError(pos, renderPath(path), fmt.Sprintf(format, args...))
	w.Warning = true
	l.warns = append(l.warns, w)
}

// lint runs every lint. bottles are the bottles that passed their checks,
// broken the others (linted as far as they were decoded), resolved the
// merged bottles; it records on each resolved bottle which sections
// replace its parent's.
func (l *loader) lint(bottles, broken map[string]*rawBottle, resolved map[string]*Bottle) {
	all := make(map[string]*rawBottle, len(bottles)+len(broken))
	maps.Copy(all, bottles)
	maps.Copy(all, broken)
	own := map[string][]string{} // sections each bottle replaces itself
	for _, name := range slices.Sorted(maps.Keys(all)) {
		b := all[name]
		l.lintWritten(b)
		if b.Extends != nil {
			if parent := resolved[*b.Extends]; parent != nil {
				own[name] = l.lintReplaces(b, parent)
			}
		}
	}
	// A bottle holds what its chain replaced: a grandchild that inherits
	// a replaced egress has it too.
	for _, b := range resolved {
		var rs []string
		for _, n := range b.Chain {
			rs = append(rs, own[n]...)
		}
		if len(rs) > 0 {
			slices.Sort(rs)
			b.Replaces = slices.Compact(rs)
		}
	}
	seen := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(all)) {
		b := resolved[name]
		if b == nil {
			// A bottle with errors of its own is not resolved; its
			// tokens are still checked, merged over its parents when
			// those are valid (as checkBroken does), so one mistake
			// does not hide another.
			chain := []*rawBottle{broken[name]}
			if bb := broken[name]; bb != nil && bb.Extends != nil {
				parents, ok := validChain(*bb.Extends, bottles)
				if !ok {
					continue
				}
				chain = append(parents, bb)
			}
			if chain[0] == nil {
				continue
			}
			b = merge(chain, Defaults{})
		}
		l.lintTokens(b, all, seen)
	}
}

// lintWritten checks what one bottle writes: its repos' host keys and
// key files, and its wildcard routes with auth.
func (l *loader) lintWritten(b *rawBottle) {
	base := sels("bottles", b.name)
	if gg := b.GitGate; gg != nil {
		for _, name := range slices.Sorted(maps.Keys(gg.Repos)) {
			l.lintRepo(with(base, "git_gate", "repos", name), gg.Repos[name])
		}
	}
	if eg := b.Egress; eg != nil {
		for i, r := range eg.Routes {
			if r.Auth == nil || r.Auth.TokenRef == "" || !strings.HasPrefix(r.Host, "*.") {
				continue
			}
			p := with(base, "egress", "routes", i, "auth")
			l.warnf(l.keyPos(p), p, "wildcard route %q with auth sends %s to every subdomain of %s: give each host that needs the token its own route with auth, and keep the wildcard without auth",
				r.Host, r.Auth.TokenRef, strings.TrimPrefix(r.Host, "*."))
		}
	}
}

// lintRepo checks an ssh repo's host_key and key file.
func (l *loader) lintRepo(p []cue.Selector, r Repo) {
	if kind, msg := repoURL(r.URL); msg != "" || kind != "ssh" {
		return
	}
	host := repoHost(r.URL)
	scan := fmt.Sprintf("`ssh-keyscan -t ed25519 %s`", host)
	if r.HostKey == "" {
		l.errorf(l.keyPos(p), with(p, "host_key"), "an ssh repo needs host_key: the git gate trusts no ssh host on first use, so every fetch would fail; add the upstream's key line, e.g. host_key: \"ssh-ed25519 AAAA...\" from %s (without the host name)", scan)
	} else if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(r.HostKey)); err != nil {
		hp := with(p, "host_key")
		l.errorf(l.valuePos(hp), hp, "host_key is not an ssh public key line like \"ssh-ed25519 AAAA...\" (%v): copy the key type and key from %s, without the host name", err, scan)
	}
	if r.Key.Provider != "static" || r.Key.Path == "" || filepath.IsAbs(filepath.FromSlash(r.Key.Path)) {
		return // checkRepo reports a missing or absolute path
	}
	kp := with(p, "key", "path")
	file := l.keyFile(kp, r.Key.Path)
	if file == "" {
		return
	}
	if _, err := os.Stat(file); err != nil {
		l.warnf(l.valuePos(kp), kp, "ssh key file %q: %s on this host, so apply will fail: create the key there, or fix the path (~/ is the home directory, a relative path is relative to this file)", r.Key.Path, statMessage(err))
	}
}

// keyFile is the host path of an ssh key path as written, or "" when it
// cannot be told without the environment ("~/" with no Options.Home).
func (l *loader) keyFile(p []cue.Selector, kp string) string {
	switch {
	case kp == "~" || strings.HasPrefix(kp, "~/"):
		if l.home == "" {
			return ""
		}
		return filepath.Join(l.home, filepath.FromSlash(kp[1:]))
	}
	abs, _ := l.fromFile(l.valuePos(p), kp)
	return abs
}

// repoHost is the host name of a repo URL (ssh://, https:// or scp form).
func repoHost(u string) string {
	if strings.Contains(u, "://") {
		if pu, err := url.Parse(u); err == nil {
			return strings.ToLower(pu.Hostname())
		}
		return ""
	}
	_, rest, _ := strings.Cut(u, "@")
	host, _, _ := strings.Cut(rest, ":")
	return strings.ToLower(host)
}

// lintReplaces warns when child b replaces a section its resolved parent
// has and drops some of it, and returns those sections (for the review).
func (l *loader) lintReplaces(b *rawBottle, parent *Bottle) []string {
	var out []string
	base := sels("bottles", b.name)
	fix := fmt.Sprintf("list them here too to keep them, or leave the section out to inherit bottle %q's", parent.Name)
	if b.Egress != nil {
		have := map[string]bool{}
		for _, r := range b.Egress.Routes {
			have[r.Host] = true
		}
		var dropped []string
		for _, r := range parent.Egress.Routes {
			if !have[r.Host] {
				dropped = append(dropped, r.Host)
			}
		}
		if len(dropped) > 0 {
			p := with(base, "egress")
			l.warnf(l.keyPos(p), p, "replaces parent's egress, which is replaced whole, not merged: drops %s of bottle %q; %s",
				plural(dropped, "route", "routes"), parent.Name, fix)
			out = append(out, "egress")
		}
	}
	if gg := b.GitGate; gg != nil && gg.Repos != nil {
		var dropped []string
		for _, name := range slices.Sorted(maps.Keys(parent.GitGate.Repos)) {
			if _, ok := gg.Repos[name]; !ok {
				dropped = append(dropped, name)
			}
		}
		if len(dropped) > 0 {
			p := with(base, "git_gate", "repos")
			l.warnf(l.keyPos(p), p, "replaces parent's git_gate.repos, which are replaced whole, not merged: drops %s of bottle %q; %s",
				plural(dropped, "repo", "repos"), parent.Name, fix)
			out = append(out, "git_gate.repos")
		}
	}
	replacedEnv := false
	for _, k := range slices.Sorted(maps.Keys(b.Env)) {
		old, ok := parent.Env[k]
		if !ok {
			continue
		}
		if nv, _ := envValue(b.Env[k]); nv == old {
			continue
		}
		p := with(base, "env", k)
		now := envKindWords(mustEnv(b.Env[k]))
		if now == envKindWords(old) {
			now = "another " + strings.TrimPrefix(now, "a ")
		}
		l.warnf(l.keyPos(p), p, "replaces parent's %s: bottle %q sets it to %s, this bottle to %s; rename one of them if both are meant, or remove it here to inherit",
			k, parent.Name, envKindWords(old), now)
		replacedEnv = true
	}
	if replacedEnv {
		out = append(out, "env")
	}
	return out
}

// mustEnv classifies v, which checkBottle has accepted.
func mustEnv(v string) EnvValue {
	ev, _ := envValue(v)
	return ev
}

// envKindWords describes an env value without printing it (a literal may
// be a secret).
func envKindWords(v EnvValue) string {
	switch v.Kind {
	case EnvFromHost:
		return "host variable $" + v.Value
	case EnvPrompted:
		return "a value asked for at apply"
	}
	return "a literal"
}

// plural renders names as `route "a"` or `routes "a", "b"`.
func plural(names []string, one, many string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(names) == 1 {
		return one + " " + q[0]
	}
	return many + " " + strings.Join(q, ", ")
}

// lintTokens reports env values of b that copy a token the bundle
// injects, and routes with auth to a git repo's host. seen holds the
// paths already reported (a parent's mistake shows in every child).
func (l *loader) lintTokens(b *Bottle, bottles map[string]*rawBottle, seen map[string]bool) {
	tokens := map[string]string{}
	if t := b.AgentProvider.AuthToken; t != "" {
		tokens[t] = fmt.Sprintf("the provider's auth_token: the agent gets a placeholder in %s and the proxy injects the token", b.AgentProvider.TokenEnv())
	}
	for _, name := range slices.Sorted(maps.Keys(b.GitGate.Repos)) {
		if r := b.GitGate.Repos[name]; r.Key.Provider == "token" && r.Key.TokenRef != "" {
			tokens[r.Key.TokenRef] = fmt.Sprintf("the token of git repo %q: the git gate uses it upstream", name)
		}
	}
	for _, r := range b.Egress.Routes {
		if r.Auth != nil {
			tokens[r.Auth.TokenRef] = fmt.Sprintf("the token route %q injects (auth.token_ref): the proxy adds it to the agent's requests", r.Host)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b.Env)) {
		v := b.Env[k]
		why, ok := tokens[v.Value]
		if v.Kind != EnvFromHost || !ok {
			continue
		}
		p := with(writer(b.Chain, bottles, func(r *rawBottle) bool { _, ok := r.Env[k]; return ok }), "env", k)
		if seen[renderPath(p)] {
			continue
		}
		seen[renderPath(p)] = true
		l.errorf(l.valuePos(p), p, "%s copies host variable %s into the agent, but %s is %s, so the agent must never hold it; remove %s, or set it to a placeholder literal if the agent's tool wants a value",
			k, v.Value, v.Value, why, k)
	}

	owner := writer(b.Chain, bottles, func(r *rawBottle) bool { return r.Egress != nil })
	for i, r := range b.Egress.Routes {
		if r.Auth == nil {
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(b.GitGate.Repos)) {
			repo := b.GitGate.Repos[name]
			host := repoHost(repo.URL)
			if host == "" || !routeCovers(r.Host, host) {
				continue
			}
			p := with(owner, "egress", "routes", i, "auth")
			if seen[renderPath(p)+"\x00"+name] {
				continue
			}
			seen[renderPath(p)+"\x00"+name] = true
			l.warnf(l.keyPos(p), p, "route %q injects %s into requests to %s, the host of git repo %q (access %s): the agent could push with that token over HTTPS around the git gate; drop auth from this route, or use a token that cannot write",
				r.Host, r.Auth.TokenRef, host, name, repo.Access)
		}
	}
}

// writer returns the path of the last bottle in chain (root first) for
// which has is true: the bottle that writes what the resolved one holds.
func writer(chain []string, bottles map[string]*rawBottle, has func(*rawBottle) bool) []cue.Selector {
	owner := chain[len(chain)-1]
	for _, n := range chain {
		if r := bottles[n]; r != nil && has(r) {
			owner = n
		}
	}
	return sels("bottles", owner)
}

// routeCovers reports whether a route for host pattern route reaches
// host.
func routeCovers(route, host string) bool {
	if rest, ok := strings.CutPrefix(route, "*."); ok {
		return strings.HasSuffix(host, "."+rest)
	}
	return route == host
}
