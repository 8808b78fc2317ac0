package bundle

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/bottleplan/bottleplan/plan"
)

// GitGate serves each plan repo over git's smart-HTTP protocol at
// /<name>.git/ (also /<name>/) and forwards to the repo's upstream with
// the credential the bundle holds; the agent never sees it.
//
// Only the three smart-HTTP endpoints pass: GET info/refs?service=...,
// POST git-upload-pack and POST git-receive-pack. Dumb-HTTP paths and
// anything else answer 403. A "read" repo refuses both halves of a push
// (the receive-pack advertisement and the pack upload) with 403
// "blocked: repo <name> is read-only".
//
// Upstreams:
//   - https with key provider "token": reverse-proxied with
//     "Authorization: Basic" built from the token (see authorization: a
//     token without "user:" goes with user x-access-token).
//   - ssh:// and scp form with key provider "static": bridged over ssh
//     with the key at SSHKeyDir/<name> and the plan's host_key (see
//     gitssh.go).
type GitGate struct {
	repos     map[string]*gateRepo
	getenv    func(string) string
	secrets   *secretSet
	rec       *Recorder
	transport http.RoundTripper
	dial      DialFunc
	sshKeyDir string
	errLog    *log.Logger
}

// gateRepo is one repo with its parsed upstream.
type gateRepo struct {
	plan.Repo
	// upstream is the https base URL; nil for ssh upstreams.
	upstream *url.URL
	// ssh is the ssh upstream; nil for https ones.
	ssh *sshUpstream
}

// GitGateOptions configure NewGitGate.
type GitGateOptions struct {
	Repos       []plan.Repo
	Getenv      func(string) string
	SecretNames []string
	Recorder    *Recorder
	// Dial opens upstream connections; nil means PublicDialer().
	Dial DialFunc
	// RootCAs verifies upstream TLS; nil means the system pool.
	RootCAs *x509.CertPool
	// SSHKeyDir holds one private key file per ssh repo, named after
	// the repo (plan.BundleSSHKeyDir in the bundle container).
	SSHKeyDir string
	// secrets, when set (by New), is the secret set built from
	// SecretNames already.
	secrets *secretSet
}

// NewGitGate builds the gate from its options.
func NewGitGate(o GitGateOptions) (*GitGate, error) {
	dial := o.Dial
	if dial == nil {
		dial = PublicDialer()
	}
	g := &GitGate{
		repos:     map[string]*gateRepo{},
		getenv:    o.Getenv,
		secrets:   o.secrets.orNew(o.SecretNames, o.Getenv),
		rec:       o.Recorder,
		transport: newTransport(dial, o.RootCAs),
		dial:      dial,
		sshKeyDir: o.SSHKeyDir,
		errLog:    log.New(io.Discard, "", 0),
	}
	for _, r := range o.Repos {
		gr := &gateRepo{Repo: r}
		if strings.HasPrefix(r.Upstream, "https://") {
			u, err := url.Parse(r.Upstream)
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("repo %s: upstream %q is not a URL", r.Name, r.Upstream)
			}
			if u.User != nil {
				return nil, fmt.Errorf("repo %s: upstream URL carries credentials; use key.token_ref", r.Name)
			}
			u.Path = strings.TrimSuffix(u.Path, "/")
			u.RawQuery, u.Fragment = "", ""
			gr.upstream = u
		} else {
			up, err := parseSSHUpstream(r.Upstream)
			if err != nil {
				return nil, fmt.Errorf("repo %s: %w", r.Name, err)
			}
			gr.ssh = up
		}
		g.repos[r.Name] = gr
	}
	return g, nil
}

// smartService returns the git service a request is for, or "" when the
// request is not one of the smart-HTTP endpoints. The gate acts on
// exactly one service value, and the query it forwards is rebuilt from
// that value (forwardQuery), never the agent's raw query: git
// http-backend takes the last of several service= parameters, so a gate
// that checked the first would let a read repo advertise receive-pack. A
// query that does not parse (a ";" separator, a bad escape), several
// service= parameters, or a service= on a POST is refused.
func smartService(r *http.Request, suffix string) (svc, reason string) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "", "the query does not parse as name=value&...: " + err.Error()
	}
	switch {
	case suffix == "info/refs" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		if len(q["service"]) > 1 {
			return "", "request carries several service parameters"
		}
		if svc := q.Get("service"); svc == "git-upload-pack" || svc == "git-receive-pack" {
			return svc, ""
		}
	case (suffix == "git-upload-pack" || suffix == "git-receive-pack") && r.Method == http.MethodPost:
		if q.Has("service") {
			return "", "a service parameter on a POST is not part of git smart-HTTP"
		}
		return suffix, ""
	}
	return "", "only git smart-HTTP requests are served (info/refs?service=, git-upload-pack, git-receive-pack)"
}

// forwardQuery is the query the gate sends upstream for svc: the one it
// checked, and nothing else.
func forwardQuery(suffix, svc string) string {
	if suffix == "info/refs" {
		return "service=" + svc
	}
	return ""
}

// ServeHTTP routes /<name>.git/<suffix> to the repo's upstream.
func (g *GitGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d := Decision{Daemon: "git-gate", Method: r.Method, Path: r.URL.Path}
	if r.URL.Path == "/healthz" {
		io.WriteString(w, "ok\n")
		return
	}
	// The gate serves a few exact paths: one that is not already in its
	// normal form (dot segments, ";" parameters, encoded "/" or "%") is
	// refused rather than read one way here and another upstream.
	raw := r.URL.RawPath
	if raw == "" {
		raw = r.URL.EscapedPath()
	}
	if np, err := normalizePath(raw); err != nil || np != r.URL.Path {
		g.refuse(w, d, http.StatusForbidden, "the path is not in normal form (dot segments, ';' parameters, empty segments or encoded '/', '\\', ';' or '%')")
		return
	}
	first, suffix, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	name := strings.TrimSuffix(first, ".git")
	repo, ok := g.repos[name]
	if !ok {
		// Not the name: the reason is part of the log's aggregation key,
		// and the decision's path holds it.
		g.refuse(w, d, http.StatusNotFound, "no such repo in the plan's git gate")
		return
	}
	d.Route = repo.Name
	if repo.ssh != nil {
		d.Host = repo.ssh.addr
	} else {
		d.Host = repo.upstream.Host
	}
	if upgradeRequested(r) {
		g.refuse(w, d, http.StatusForbidden, "git smart-HTTP does not switch protocols; protocol upgrades are refused")
		return
	}
	svc, why := smartService(r, suffix)
	if svc == "" {
		g.refuse(w, d, http.StatusForbidden, why)
		return
	}
	if svc == "git-receive-pack" && repo.Access != "read-write" {
		g.refuse(w, d, http.StatusForbidden, fmt.Sprintf("repo %s is read-only", repo.Name))
		return
	}
	if repo.ssh != nil {
		g.serveSSH(w, r, repo, svc, d)
		return
	}
	tok := g.getenv(repo.TokenRef)
	if repo.TokenRef == "" || tok == "" {
		g.refuse(w, d, http.StatusForbidden, fmt.Sprintf("repo %s needs token %q but it is not set in the bundle; set it on the host and apply again", repo.Name, repo.TokenRef))
		return
	}
	target := *repo.upstream
	target.Path = repo.upstream.Path + "/" + suffix
	target.RawPath = ""
	target.RawQuery = forwardQuery(suffix, svc)
	authz := authorization("Basic", tok)
	d.Verdict = VerdictAllow
	g.rec.Record(d)
	rp := &httputil.ReverseProxy{
		Transport:     g.transport,
		FlushInterval: -1,
		ErrorLog:      g.errLog,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = &target
			pr.Out.Host = ""
			pr.Out.Header.Set("Authorization", authz)
		},
		ModifyResponse: func(resp *http.Response) error {
			// The agent has no credential to offer; a challenge would
			// only make its git prompt.
			resp.Header.Del("WWW-Authenticate")
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			if errors.Is(err, http.ErrAbortHandler) {
				return
			}
			d.Verdict, d.Reason = VerdictError, "upstream: "+err.Error()
			g.rec.Record(d)
			http.Error(w, "bottleplan git gate: upstream failed", http.StatusBadGateway)
		},
	}
	rp.ServeHTTP(w, r)
}

// refuse answers code with "blocked: reason" and records a denial.
func (g *GitGate) refuse(w http.ResponseWriter, d Decision, code int, reason string) {
	d.Verdict, d.Reason = VerdictDeny, reason
	g.rec.Record(d)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	io.WriteString(w, "blocked: "+reason+"\n")
}
