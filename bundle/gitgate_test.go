package bundle

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bottleplan/bottleplan/plan"
)

// gateFixture is a git gate in front of a loopback https upstream that
// serves bare repos with the real `git http-backend` and demands the
// bundle's token.
type gateFixture struct {
	gate *httptest.Server
	root string // upstream repos
	home string // HOME for the git client
	log  *syncBuffer
	up   *upstream
	ssh  *sshGitServer
}

func newGateFixture(t *testing.T) *gateFixture {
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed")
	}
	f := &gateFixture{root: t.TempDir(), home: t.TempDir(), log: &syncBuffer{}}
	for _, repo := range []string{"alice/app.git", "alice/docs.git"} {
		dir := filepath.Join(f.root, repo)
		f.git(t, "", "init", "-q", "--bare", "-b", "main", dir)
		f.git(t, dir, "config", "http.receivepack", "true")
		// Seed one commit through a throwaway clone by path.
		work := filepath.Join(t.TempDir(), "seed")
		f.git(t, "", "clone", "-q", dir, work)
		os.WriteFile(filepath.Join(work, "README"), []byte("seed of "+repo+"\n"), 0o644)
		f.git(t, work, "add", "README")
		f.git(t, work, "commit", "-q", "-m", "seed")
		f.git(t, work, "push", "-q", "origin", "main")
	}

	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+canary))
	backend := &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		Root: "/",
		Env:  []string{"GIT_PROJECT_ROOT=" + f.root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	upCA := newTestCA(t, "upstream test CA")
	f.up = newUpstream(t, upCA, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != wantAuth {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "bad credentials", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	env := map[string]string{"GATE_TOKEN": canary}
	f.ssh = newSSHGitServer(t, f.root)
	keyDir := t.TempDir()
	for _, name := range []string{"sshapp", "sshdocs", "nohostkey", "wronghostkey"} {
		if err := os.WriteFile(filepath.Join(keyDir, name), f.ssh.clientKey, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	gate, err := NewGitGate(GitGateOptions{
		Repos: []plan.Repo{
			{Name: "app", Upstream: "https://git.example.test/alice/app.git", Access: "read-write", KeyProvider: "token", TokenRef: "GATE_TOKEN"},
			{Name: "docs", Upstream: "https://git.example.test/alice/docs.git", Access: "read", KeyProvider: "token", TokenRef: "GATE_TOKEN"},
			{Name: "notoken", Upstream: "https://git.example.test/alice/app.git", Access: "read", KeyProvider: "token", TokenRef: "UNSET_TOKEN"},
			{Name: "sshapp", Upstream: "ssh://git@git.example.test/alice/app.git", Access: "read-write", KeyProvider: "static", KeyPath: "~/.ssh/id", HostKey: f.ssh.hostKeyLine},
			{Name: "sshdocs", Upstream: "git@git.example.test:alice/docs.git", Access: "read", KeyProvider: "static", KeyPath: "~/.ssh/id", HostKey: f.ssh.hostKeyLine},
			{Name: "nohostkey", Upstream: "ssh://git@git.example.test/alice/app.git", Access: "read", KeyProvider: "static", KeyPath: "~/.ssh/id"},
			{Name: "nokey", Upstream: "ssh://git@git.example.test/alice/app.git", Access: "read", KeyProvider: "static", KeyPath: "~/.ssh/id", HostKey: f.ssh.hostKeyLine},
			{Name: "wronghostkey", Upstream: "ssh://git@git.example.test/alice/app.git", Access: "read", KeyProvider: "static", KeyPath: "~/.ssh/id",
				HostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"},
		},
		SSHKeyDir:   keyDir,
		Getenv:      func(k string) string { return env[k] },
		SecretNames: []string{"GATE_TOKEN"},
		Recorder:    NewRecorder(f.log, "t1", newSecretSet([]string{"GATE_TOKEN"}, func(k string) string { return env[k] }).scrub),
		Dial:        mapDial(map[string]string{"git.example.test:443": f.up.addr(), "git.example.test:22": f.ssh.addr}),
		RootCAs:     upCA.pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.gate = httptest.NewServer(gate)
	t.Cleanup(f.gate.Close)
	t.Cleanup(func() {
		if strings.Contains(f.log.String(), canary) {
			t.Errorf("gate log contains the token:\n%s", f.log.String())
		}
	})
	return f
}

// git runs git in dir with a clean, offline environment and fails the
// test on error.
func (f *gateFixture) git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := f.gitErr(dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (f *gateFixture) gitErr(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = []string{
		"HOME=" + f.home, "PATH=" + os.Getenv("PATH"),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "NO_PROXY=*",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.test",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.test",
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// commitFile clones repo through the gate, commits one file and returns
// the clone's directory.
func (f *gateFixture) cloneAndCommit(t *testing.T, repo string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), repo)
	f.git(t, "", "clone", "-q", f.gate.URL+"/"+repo+".git", dir)
	os.WriteFile(filepath.Join(dir, "agent.txt"), []byte("from the agent\n"), 0o644)
	f.git(t, dir, "add", "agent.txt")
	f.git(t, dir, "commit", "-q", "-m", "agent change")
	return dir
}

func TestGitGateCloneAndPushReadWrite(t *testing.T) {
	f := newGateFixture(t)
	dir := f.cloneAndCommit(t, "app")
	if b, err := os.ReadFile(filepath.Join(dir, "README")); err != nil || string(b) != "seed of alice/app.git\n" {
		t.Fatalf("clone content %q, %v", b, err)
	}
	f.git(t, dir, "push", "-q", "origin", "main")
	log := f.git(t, "", "--git-dir", filepath.Join(f.root, "alice/app.git"), "log", "--format=%s", "main")
	if log != "agent change\nseed\n" {
		t.Fatalf("upstream log after push:\n%s", log)
	}
	for _, r := range f.up.requests() {
		if strings.Contains(r.Authorization, agentToken) {
			t.Fatal("agent credential reached upstream")
		}
	}
}

func TestGitGateRefusesPushToReadRepo(t *testing.T) {
	f := newGateFixture(t)
	dir := f.cloneAndCommit(t, "docs")
	before := f.git(t, "", "--git-dir", filepath.Join(f.root, "alice/docs.git"), "rev-parse", "main")
	out, err := f.gitErr(dir, "push", "origin", "main")
	if err == nil {
		t.Fatalf("push to read repo succeeded:\n%s", out)
	}
	if !strings.Contains(out, "blocked: repo docs is read-only") {
		t.Fatalf("push output does not say why:\n%s", out)
	}
	after := f.git(t, "", "--git-dir", filepath.Join(f.root, "alice/docs.git"), "rev-parse", "main")
	if before != after {
		t.Fatalf("read repo changed: %s -> %s", before, after)
	}
	// The pack upload itself is refused too, not only the advertisement.
	resp, err := http.Post(f.gate.URL+"/docs.git/git-receive-pack", "application/x-git-receive-pack-request", strings.NewReader("0000"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("receive-pack POST: %d", resp.StatusCode)
	}
}

func TestGitGateRefusals(t *testing.T) {
	tests := map[string]struct {
		method, path string
		code         int
		body         string
	}{
		"dumb http":        {"GET", "/app.git/HEAD", 403, "blocked: only git smart-HTTP requests are served"},
		"unknown service":  {"GET", "/app.git/info/refs?service=git-upload-archive", 403, "blocked: only git smart-HTTP"},
		"get upload-pack":  {"GET", "/app.git/git-upload-pack", 403, "blocked: only git smart-HTTP"},
		"unknown repo":     {"GET", "/other.git/info/refs?service=git-upload-pack", 404, "blocked: no such repo"},
		"ssh no host key":  {"GET", "/nohostkey.git/info/refs?service=git-upload-pack", 502, "bottleplan git gate: repo nohostkey has no host_key"},
		"ssh no key":       {"GET", "/nokey.git/info/refs?service=git-upload-pack", 502, "bottleplan git gate: repo nokey: ssh key not found in the bundle"},
		"ssh wrong host":   {"GET", "/wronghostkey.git/info/refs?service=git-upload-pack", 502, "bottleplan git gate: ssh: handshake failed: ssh: host key mismatch"},
		"token missing":    {"GET", "/notoken.git/info/refs?service=git-upload-pack", 403, `blocked: repo notoken needs token "UNSET_TOKEN"`},
		"read advertises":  {"GET", "/docs.git/info/refs?service=git-upload-pack", 200, ""},
		"read no push ads": {"GET", "/docs.git/info/refs?service=git-receive-pack", 403, "blocked: repo docs is read-only"},
	}
	f := newGateFixture(t)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, f.gate.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code || !strings.HasPrefix(string(b), tc.body) {
				t.Fatalf("got %d %q, want %d %q...", resp.StatusCode, b, tc.code, tc.body)
			}
		})
	}
}
