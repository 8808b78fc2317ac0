package compiler

import (
	"fmt"
	"strconv"

	"github.com/bottleplan/bottleplan/plan"
	"github.com/bottleplan/bottleplan/schema"
)

// compileEnv splits the bottle's env into the three plan maps and adds
// the variables bottleplan owns. All three maps are non-nil.
//
// guest_env holds, besides declared literals:
//   - HTTPS_PROXY, HTTP_PROXY and their lower-case twins: the proxy URL
//     with the bundle IP literal: the agent resolves no names itself (a
//     docker agent has no resolver on its internal network; a smolvm
//     guest's lookups are refused by the gateway's DNS filter, which
//     apply turns on and checks, docs/smolvm.md "DNS");
//   - NO_PROXY and no_proxy: the bundle IP, so the git gate and supervise
//     are dialed directly, plus localhost and 127.0.0.1 for servers the
//     agent runs for itself;
//   - SSL_CERT_FILE, NODE_EXTRA_CA_CERTS, REQUESTS_CA_BUNDLE: always
//     plan.GuestCAFile. Apply always installs the instance CA, and the
//     proxy terminates the TLS of every route with it (compileRoutes),
//     so the agent must trust it whatever routes its bottle has;
//   - GIT_CONFIG_COUNT with GIT_CONFIG_KEY_n / GIT_CONFIG_VALUE_n: for each
//     repo, sorted by name, url.<gate_url>.insteadOf = <upstream>, so the
//     agent's clones and pushes of the upstream URL go to the gate; then
//     user.name and user.email when the identity (bottle git_gate.user
//     overlaid by the agent's) sets them, repos or not. Omitted when
//     there is nothing to configure;
//   - the variable the provider's CLI reads its credential from
//     (schema.AgentProvider.TokenEnv: CLAUDE_CODE_OAUTH_TOKEN, or
//     ANTHROPIC_API_KEY for an auth_token named *API_KEY, for claude;
//     OPENAI_API_KEY for codex), whatever the host secret auth_token
//     names is called, set to plan.GuestAuthPlaceholder, unless the
//     bottle declares that variable itself: the agent CLI starts with a
//     credential it can send, and the proxy swaps in the real token.
//
// Reserved names cannot be declared (schema.Load refuses them), so
// declared literals never collide with the proxy, CA and git variables.
func compileEnv(b *schema.Bottle, bundleIP string, gate *plan.GitGate, user plan.GitUser) (guest, fromHost, prompted map[string]string) {
	guest = map[string]string{}
	fromHost = map[string]string{}
	prompted = map[string]string{}
	for name, v := range b.Env {
		switch v.Kind {
		case schema.EnvFromHost:
			fromHost[name] = v.Value
		case schema.EnvPrompted:
			prompted[name] = v.Value
		default:
			guest[name] = v.Value
		}
	}

	proxy := proxyURL(bundleIP)
	for _, n := range []string{"HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"} {
		guest[n] = proxy
	}
	noProxy := bundleIP + ",localhost,127.0.0.1"
	guest["NO_PROXY"] = noProxy
	guest["no_proxy"] = noProxy
	for _, n := range []string{"SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE"} {
		guest[n] = plan.GuestCAFile
	}

	var kv [][2]string
	if gate != nil {
		for _, r := range gate.Repos {
			kv = append(kv, [2]string{"url." + r.GateURL + ".insteadOf", r.Upstream})
		}
	}
	if user.Name != "" {
		kv = append(kv, [2]string{"user.name", user.Name})
	}
	if user.Email != "" {
		kv = append(kv, [2]string{"user.email", user.Email})
	}
	if len(kv) > 0 {
		guest["GIT_CONFIG_COUNT"] = strconv.Itoa(len(kv))
		for i, p := range kv {
			guest[fmt.Sprintf("GIT_CONFIG_KEY_%d", i)] = p[0]
			guest[fmt.Sprintf("GIT_CONFIG_VALUE_%d", i)] = p[1]
		}
	}

	if tok := b.AgentProvider.TokenEnv(); tok != "" {
		_, g := guest[tok]
		_, h := fromHost[tok]
		_, p := prompted[tok]
		if !g && !h && !p {
			guest[tok] = plan.GuestAuthPlaceholder
		}
	}
	return guest, fromHost, prompted
}
