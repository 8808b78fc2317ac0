package schema

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"cuelang.org/go/cue"
)

// rawBottle is a bottle as written, decoded after CUE validation. Pointer
// and nil-able fields tell "not set" (inherit) from "set".
type rawBottle struct {
	name          string
	Extends       *string           `json:"extends"`
	AgentProvider *rawProvider      `json:"agent_provider"`
	Env           map[string]string `json:"env"`
	GitGate       *rawGitGate       `json:"git_gate"`
	Egress        *Egress           `json:"egress"`
	Supervise     *rawSupervise     `json:"supervise"`
	Network       *Network          `json:"network"`
	Resources     *Resources        `json:"resources"`
	Runtime       *string           `json:"runtime"`
	Backend       *string           `json:"backend"`
}

// rawSupervise is supervise as written: a bool, or {hold_timeout}
// (which turns it on).
type rawSupervise struct {
	On          bool
	HoldTimeout *string
	// holdTimeout is HoldTimeout parsed by checkBottle.
	holdTimeout time.Duration
}

func (s *rawSupervise) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &s.On); err == nil {
		return nil
	}
	var o struct {
		HoldTimeout *string `json:"hold_timeout"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	s.On, s.HoldTimeout = true, o.HoldTimeout
	return nil
}

// Bounds of supervise.hold_timeout (the CUE schema checks only that it
// is a non-empty string).
const (
	minHoldTimeout = 10 * time.Second
	maxHoldTimeout = 24 * time.Hour
)

// parseHoldTimeout parses a hold_timeout, or says what is wrong with it.
func parseHoldTimeout(s string) (time.Duration, string) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Sprintf("%q is not a Go duration: write it like \"90s\", \"5m\" or \"1h30m\"", s)
	}
	if d < minHoldTimeout || d > maxHoldTimeout {
		return 0, fmt.Sprintf("%s is out of range: a hold timeout is %s to %s", d, minHoldTimeout, maxHoldTimeout)
	}
	return d, ""
}

type rawProvider struct {
	Template   *string `json:"template"`
	AuthToken  *string `json:"auth_token"`
	Dockerfile *string `json:"dockerfile"`
	Image      *string `json:"image"`
	// digest and rel are filled for a Dockerfile: its content hash and
	// its path relative to the manifest root.
	digest, rel string
}

type rawGitGate struct {
	User  *GitUser        `json:"user"`
	Repos map[string]Repo `json:"repos"`
}

// reservedEnv are set by bottleplan to route traffic through the bundle.
var (
	reservedAnyCase = map[string]bool{"HTTP_PROXY": true, "HTTPS_PROXY": true, "ALL_PROXY": true, "NO_PROXY": true}
	reservedExact   = map[string]bool{"SSL_CERT_FILE": true, "NODE_EXTRA_CA_CERTS": true, "REQUESTS_CA_BUNDLE": true, "GIT_CONFIG_COUNT": true}
	reservedPrefix  = []string{"GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_", "BOTTLEPLAN_"}
	hostRefRe       = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)
)

func reservedEnv(name string) bool {
	if reservedAnyCase[strings.ToUpper(name)] || reservedExact[name] {
		return true
	}
	for _, p := range reservedPrefix {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// envValue classifies one env value; ok is false when it misuses "${".
func envValue(v string) (EnvValue, bool) {
	if m := hostRefRe.FindStringSubmatch(v); m != nil {
		return EnvValue{Kind: EnvFromHost, Value: m[1]}, true
	}
	if strings.HasPrefix(v, "?") {
		return EnvValue{Kind: EnvPrompted, Value: v[1:]}, true
	}
	if strings.Contains(v, "${") {
		return EnvValue{}, false
	}
	return EnvValue{Kind: EnvLiteral, Value: v}, true
}

// checkBottle checks the rules of one bottle as written that CUE does
// not say, and resolves its Dockerfile. It reports whether the bottle is
// usable for extends resolution.
func (l *loader) checkBottle(b *rawBottle) bool {
	base := sels("bottles", b.name)
	n := len(l.errs)
	for _, k := range slices.Sorted(maps.Keys(b.Env)) {
		p := with(base, "env", k)
		if reservedEnv(k) {
			l.errorf(l.keyPos(p), p, "%q is reserved: bottleplan sets it to route traffic through the bundle; remove it", k)
		}
		if _, ok := envValue(b.Env[k]); !ok {
			l.errorf(l.valuePos(p), p, "\"${\" may only be used as the whole value \"${NAME}\" (copied from the host env)")
		}
	}
	if ap := b.AgentProvider; ap != nil {
		if ap.Dockerfile != nil && ap.Image != nil {
			p := with(base, "agent_provider", "image")
			l.errorf(l.valuePos(p), p, "dockerfile and image are exclusive: set one")
		} else if ap.Dockerfile != nil {
			p := with(base, "agent_provider", "dockerfile")
			if rel, data, ok := l.readRelFile(p, *ap.Dockerfile, 0); ok {
				ap.rel, ap.digest = rel, digest(data)
			}
		}
	}
	if gg := b.GitGate; gg != nil {
		for _, name := range slices.Sorted(maps.Keys(gg.Repos)) {
			rp := with(base, "git_gate", "repos", name)
			l.checkRepo(rp, gg.Repos[name])
			if r := gg.Repos[name]; r.Key.Provider == "static" && r.Key.Path != "" {
				r.Key.Path = l.keyPath(with(rp, "key", "path"), r.Key.Path)
				gg.Repos[name] = r
			}
		}
	}
	if eg := b.Egress; eg != nil {
		seen := map[string]int{}
		for i, r := range eg.Routes {
			p := with(base, "egress", "routes", i)
			if r.Host == "" {
				// Missing: reported by the key walk.
			} else if msg := hostProblem(r.Host); msg != "" {
				l.errorf(l.valuePos(with(p, "host")), with(p, "host"), "%s", msg)
			} else if j, dup := seen[r.Host]; dup {
				l.errorf(l.valuePos(with(p, "host")), with(p, "host"), "host %q is already listed in routes[%d]: list each host once", r.Host, j)
			} else {
				seen[r.Host] = i
			}
			if r.Ports != nil && len(r.Ports) == 0 {
				l.errorf(l.valuePos(with(p, "ports")), with(p, "ports"), "ports is empty: leave it out for the default [443] or list ports")
			}
		}
	}
	if s := b.Supervise; s != nil && s.HoldTimeout != nil {
		p := with(base, "supervise", "hold_timeout")
		var msg string
		if s.holdTimeout, msg = parseHoldTimeout(*s.HoldTimeout); msg != "" {
			l.errorf(l.valuePos(p), p, "%s", msg)
		}
	}
	if nw := b.Network; nw != nil && nw.Subnet != "" {
		p := with(base, "network", "subnet")
		if msg := subnetProblem(nw.Subnet); msg != "" {
			l.errorf(l.valuePos(p), p, "%s", msg)
		}
	}
	return len(l.errs) == n
}

// checkRepo checks a repo's URL form and that its key fits the URL.
func (l *loader) checkRepo(p []cue.Selector, r Repo) {
	if r.URL == "" {
		return // missing: reported by the key walk
	}
	kind, msg := repoURL(r.URL)
	if msg != "" {
		l.errorf(l.valuePos(with(p, "url")), with(p, "url"), "%s", msg)
		return
	}
	kp := with(p, "key", "provider")
	switch {
	case r.Key.Provider == "":
		// No key, or one without provider: reported by the key walk.
	case kind == "https" && r.Key.Provider != "token":
		l.errorf(l.valuePos(kp), kp, "an https URL needs key {provider: token, token_ref: NAME}")
	case kind == "ssh" && r.Key.Provider != "static":
		l.errorf(l.valuePos(kp), kp, "an ssh URL needs key {provider: static, path: PATH}")
	case r.Key.Provider == "static" && r.Key.Path == "":
		l.errorf(l.keyPos(with(p, "key")), with(p, "key", "path"), "key provider static needs path (the ssh private key on the host)")
	case r.Key.Provider == "token" && r.Key.TokenRef == "":
		l.errorf(l.keyPos(with(p, "key")), with(p, "key", "token_ref"), "key provider token needs token_ref (the NAME of a host env var)")
	case r.Key.Provider == "static" && r.Key.TokenRef != "":
		l.errorf(l.valuePos(with(p, "key", "token_ref")), with(p, "key", "token_ref"), "token_ref belongs to provider token; a static key has only path")
	case r.Key.Provider == "token" && r.Key.Path != "":
		l.errorf(l.valuePos(with(p, "key", "path")), with(p, "key", "path"), "path belongs to provider static; a token key has only token_ref")
	case r.Key.Provider == "static" && (path.IsAbs(r.Key.Path) || filepath.IsAbs(r.Key.Path)):
		// The plan holds no absolute host paths (see keyPath).
		l.errorf(l.valuePos(with(p, "key", "path")), with(p, "key", "path"), "%q is absolute: write it as ~/... (the home directory at apply) or relative to the manifest file, so the plan holds no host path", r.Key.Path)
	}
}

// keyPath returns a static key path as the plan holds it: "~/..." as
// written (apply expands it to the home directory), a relative path
// rebased from the directory of the file that writes it onto the
// manifest root, as dockerfile and prompt_file paths are; apply resolves
// it against the manifest root. So a key path means the same file
// whichever file of a split manifest writes it.
func (l *loader) keyPath(p []cue.Selector, kp string) string {
	if kp == "~" || strings.HasPrefix(kp, "~/") || filepath.IsAbs(filepath.FromSlash(kp)) {
		return kp
	}
	_, rel := l.fromFile(l.valuePos(p), kp)
	return rel
}

var (
	scpRe   = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/:][^\s]*$|^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:/[^\s]+$`)
	labelRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// repoURL says whether u is an ssh or https URL, or why it is neither.
func repoURL(u string) (kind, problem string) {
	for _, scheme := range []string{"ssh://", "https://"} {
		rest, ok := strings.CutPrefix(u, scheme)
		if !ok {
			continue
		}
		hostPart, _, _ := strings.Cut(rest, "/")
		if at := strings.LastIndex(hostPart, "@"); at >= 0 {
			user := hostPart[:at]
			if scheme == "https://" || strings.Contains(user, ":") {
				return "", "credentials in the URL are not allowed: give them with key instead"
			}
			hostPart = hostPart[at+1:]
		}
		if hostPart == "" || !strings.Contains(rest, "/") || strings.HasSuffix(rest, "/") && strings.Count(rest, "/") == 1 {
			return "", fmt.Sprintf("%q lacks a host or a repository path", u)
		}
		if scheme == "ssh://" {
			return "ssh", ""
		}
		return "https", ""
	}
	if strings.Contains(u, "://") {
		return "", fmt.Sprintf("%q: use ssh://, https:// or the scp form user@host:path", u)
	}
	if scpRe.MatchString(u) {
		return "ssh", ""
	}
	return "", fmt.Sprintf("%q is not a repository URL: use ssh://, https:// or the scp form user@host:path", u)
}

// hostProblem says what is wrong with an egress host, or "".
func hostProblem(h string) string {
	name := strings.TrimPrefix(h, "*.")
	if ipLiteral(name) {
		return fmt.Sprintf("%q is an IP literal: egress names DNS hosts only (metadata and host services stay unreachable)", h)
	}
	if h != strings.ToLower(h) {
		return fmt.Sprintf("%q must be lowercase", h)
	}
	if name == "localhost" || strings.HasSuffix(name, ".localhost") || strings.HasSuffix(name, ".local") || strings.HasSuffix(name, ".internal") || name == "local" || name == "internal" {
		return fmt.Sprintf("%q is a local name: egress may not reach localhost, .local or .internal hosts", h)
	}
	if len(name) == 0 || len(name) > 253 {
		return fmt.Sprintf("%q is not a DNS name", h)
	}
	for _, label := range strings.Split(name, ".") {
		if !labelRe.MatchString(label) {
			if strings.Contains(label, "*") {
				return fmt.Sprintf("%q: a wildcard is only allowed as the whole first label, as in \"*.example.com\"", h)
			}
			return fmt.Sprintf("%q is not a DNS name (labels are letters, digits and '-')", h)
		}
	}
	return ""
}

// ipLiteral reports whether a resolver or URL parser would take name as
// an IP address: a standard IPv4 or IPv6 literal (bracketed or not), or
// a name ending in a number. inet_aton reads "127.1", "2130706433",
// "0x7f000001", "0177.0.0.1" and "1.2.3" as IPv4 addresses, and the URL
// standard treats any host whose last label (after one trailing dot) is
// all digits or 0x followed by hex digits as one; no DNS top-level name
// is numeric.
func ipLiteral(name string) bool {
	if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		return true
	}
	labels := strings.Split(name, ".")
	if len(labels) > 1 && labels[len(labels)-1] == "" {
		labels = labels[:len(labels)-1]
	}
	last := strings.ToLower(labels[len(labels)-1])
	if last == "" {
		return false
	}
	digits, base := last, "0123456789"
	if rest, ok := strings.CutPrefix(last, "0x"); ok {
		digits, base = rest, "0123456789abcdef"
	}
	for _, c := range digits {
		if !strings.ContainsRune(base, c) {
			return false
		}
	}
	return true
}

var privateNets = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
}

// privateCIDR parses s as an aligned IPv4 CIDR inside a private range.
func privateCIDR(s string) (netip.Prefix, string) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return p, fmt.Sprintf("%q is not an IPv4 CIDR like 10.231.40.0/28", s)
	}
	inside := false
	for _, n := range privateNets {
		if n.Bits() <= p.Bits() && n.Contains(p.Addr()) {
			inside = true
		}
	}
	if !inside {
		return p, fmt.Sprintf("%s is not inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16", s)
	}
	if p.Masked() != p {
		return p, fmt.Sprintf("%s is not aligned to its prefix: use %s", s, p.Masked())
	}
	return p, ""
}

// subnetProblem checks a pinned subnet.
func subnetProblem(s string) string {
	p, msg := privateCIDR(s)
	if msg != "" && (!p.IsValid() || !p.Addr().Is4()) {
		return msg
	}
	if p.Bits() < 24 || p.Bits() > 29 {
		return fmt.Sprintf("%s: the prefix must be 24..29, not /%d", s, p.Bits())
	}
	return msg
}

// checkDefaults checks the address pool.
func (l *loader) checkDefaults(d *Defaults) {
	if d.AddressPool == "" {
		return
	}
	p := sels("defaults", "address_pool")
	pool, msg := privateCIDR(d.AddressPool)
	if msg != "" {
		l.errorf(l.valuePos(p), p, "%s", msg)
		return
	}
	if d.SubnetPrefix != 0 && pool.Bits() > d.SubnetPrefix {
		l.errorf(l.valuePos(p), p, "%s is smaller than one /%d subnet (subnet_prefix)", d.AddressPool, d.SubnetPrefix)
	}
}

// checkSubnets reports pinned subnets that overlap, at the later one in
// name order.
func (l *loader) checkSubnets(bottles map[string]*rawBottle) {
	type pin struct {
		name string
		p    netip.Prefix
	}
	var pins []pin
	for _, name := range slices.Sorted(maps.Keys(bottles)) {
		b := bottles[name]
		if b.Network == nil || b.Network.Subnet == "" {
			continue
		}
		p, err := netip.ParsePrefix(b.Network.Subnet)
		if err != nil {
			continue
		}
		for _, o := range pins {
			if o.p.Overlaps(p) {
				path := sels("bottles", name, "network", "subnet")
				l.errorf(l.valuePos(path), path, "%s overlaps %s pinned by bottle %q: pinned subnets may not overlap", p, o.p, o.name)
				break
			}
		}
		pins = append(pins, pin{name, p})
	}
}
