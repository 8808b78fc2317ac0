package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

// sshGitServer is a loopback ssh server that runs the real
// git-upload-pack / git-receive-pack on repos under root for one client
// key, like a git host does.
type sshGitServer struct {
	addr        string
	hostKeyLine string
	clientKey   []byte // PEM, for the gate's key dir
	mu          sync.Mutex
	protocols   []string // GIT_PROTOCOL values received
}

func newSSHGitServer(t *testing.T, root string) *sshGitServer {
	t.Helper()
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	clientPub, clientPriv, _ := ed25519.GenerateKey(rand.Reader)
	clientSSHPub, _ := ssh.NewPublicKey(clientPub)
	block, err := ssh.MarshalPrivateKey(clientPriv, "")
	if err != nil {
		t.Fatal(err)
	}
	s := &sshGitServer{
		hostKeyLine: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostSigner.PublicKey()))),
		clientKey:   pem.EncodeToMemory(block),
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(c ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if c.User() == "git" && bytes.Equal(k.Marshal(), clientSSHPub.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("unknown key")
	}}
	cfg.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s.addr = ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.handle(c, cfg, root)
		}
	}()
	return s
}

func (s *sshGitServer) handle(c net.Conn, cfg *ssh.ServerConfig, root string) {
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		c.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "sessions only")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go func() {
			var env []string
			for req := range creqs {
				switch req.Type {
				case "env":
					var kv struct{ Name, Value string }
					ssh.Unmarshal(req.Payload, &kv)
					ok := kv.Name == "GIT_PROTOCOL"
					if ok {
						env = append(env, "GIT_PROTOCOL="+kv.Value)
						s.mu.Lock()
						s.protocols = append(s.protocols, kv.Value)
						s.mu.Unlock()
					}
					req.Reply(ok, nil)
				case "exec":
					var ex struct{ Command string }
					ssh.Unmarshal(req.Payload, &ex)
					svc, arg, _ := strings.Cut(ex.Command, " ")
					if svc != "git-upload-pack" && svc != "git-receive-pack" {
						req.Reply(false, nil)
						ch.Close()
						return
					}
					req.Reply(true, nil)
					go func() {
						cmd := exec.Command("git", strings.TrimPrefix(svc, "git-"), filepath.Join(root, strings.Trim(arg, "'")))
						cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + root}, env...)
						cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
						code := 0
						if err := cmd.Run(); err != nil {
							code = 1
						}
						ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
						ch.Close()
					}()
				default:
					req.Reply(false, nil)
				}
			}
		}()
	}
}

// upstreamCommit adds a commit to a bare upstream repo behind the gate's
// back, as another contributor would.
func (f *gateFixture) upstreamCommit(t *testing.T, repo, file string) {
	t.Helper()
	work := filepath.Join(t.TempDir(), "other")
	f.git(t, "", "clone", "-q", filepath.Join(f.root, repo), work)
	os.WriteFile(filepath.Join(work, file), []byte(file+"\n"), 0o644)
	f.git(t, work, "add", file)
	f.git(t, work, "commit", "-q", "-m", "upstream "+file)
	f.git(t, work, "push", "-q", "origin", "main")
}

func TestGitGateSSHCloneFetchPush(t *testing.T) {
	for _, version := range []string{"2", "0"} {
		t.Run("protocol v"+version, func(t *testing.T) {
			f := newGateFixture(t)
			dir := filepath.Join(t.TempDir(), "app")
			f.git(t, "", "-c", "protocol.version="+version, "clone", "-q", f.gate.URL+"/sshapp.git", dir)
			f.git(t, dir, "config", "protocol.version", version)
			if b, _ := os.ReadFile(filepath.Join(dir, "README")); string(b) != "seed of alice/app.git\n" {
				t.Fatalf("clone content %q", b)
			}
			// Many local commits the upstream lacks make the fetch
			// negotiate over several stateless rounds (git sends haves
			// in batches of 16, and only the last round says "done").
			f.git(t, dir, "checkout", "-q", "-b", "wip")
			for i := 0; i < 40; i++ {
				f.git(t, dir, "commit", "-q", "--allow-empty", "-m", "wip")
			}
			f.git(t, dir, "checkout", "-q", "main")
			f.upstreamCommit(t, "alice/app.git", "one.txt")
			before := strings.Count(f.log.String(), `"path":"/sshapp.git/git-upload-pack"`)
			f.git(t, dir, "pull", "-q", "--ff-only", "origin", "main")
			if _, err := os.Stat(filepath.Join(dir, "one.txt")); err != nil {
				t.Fatalf("fetch did not bring the upstream commit: %v", err)
			}
			if rounds := strings.Count(f.log.String(), `"path":"/sshapp.git/git-upload-pack"`) - before; rounds < 2 {
				t.Fatalf("fetch took %d upload-pack request(s); the test wants a multi-round negotiation", rounds)
			}
			os.WriteFile(filepath.Join(dir, "agent.txt"), []byte("agent\n"), 0o644)
			f.git(t, dir, "add", "agent.txt")
			f.git(t, dir, "commit", "-q", "-m", "agent change")
			f.git(t, dir, "push", "-q", "origin", "main")
			log := f.git(t, "", "--git-dir", filepath.Join(f.root, "alice/app.git"), "log", "--format=%s", "main")
			if log != "agent change\nupstream one.txt\nseed\n" {
				t.Fatalf("upstream log after push:\n%s", log)
			}
			f.ssh.mu.Lock()
			sawV2 := strings.Contains(strings.Join(f.ssh.protocols, ","), "version=2")
			f.ssh.mu.Unlock()
			if sawV2 != (version == "2") {
				t.Fatalf("GIT_PROTOCOL seen by the server: %q", f.ssh.protocols)
			}
		})
	}
}

func TestGitGateSSHReadRepoRefusesPush(t *testing.T) {
	f := newGateFixture(t)
	dir := filepath.Join(t.TempDir(), "docs")
	f.git(t, "", "clone", "-q", f.gate.URL+"/sshdocs.git", dir)
	os.WriteFile(filepath.Join(dir, "x"), []byte("x\n"), 0o644)
	f.git(t, dir, "add", "x")
	f.git(t, dir, "commit", "-q", "-m", "x")
	out, err := f.gitErr(dir, "push", "origin", "main")
	if err == nil || !strings.Contains(out, "blocked: repo sshdocs is read-only") {
		t.Fatalf("push to read ssh repo: %v\n%s", err, out)
	}
}

func TestParseSSHUpstream(t *testing.T) {
	tests := map[string]struct {
		in               string
		user, addr, path string
		err              bool
	}{
		"ssh url":      {in: "ssh://git@git.example.com/alice/app.git", user: "git", addr: "git.example.com:22", path: "/alice/app.git"},
		"ssh url port": {in: "ssh://bob@git.example.com:2222/app.git", user: "bob", addr: "git.example.com:2222", path: "/app.git"},
		"ssh no user":  {in: "ssh://git.example.com/app.git", user: "git", addr: "git.example.com:22", path: "/app.git"},
		"scp form":     {in: "git@github.com:alice/app.git", user: "git", addr: "github.com:22", path: "alice/app.git"},
		"scp no user":  {in: "github.com:alice/app.git", user: "git", addr: "github.com:22", path: "alice/app.git"},
		"password":     {in: "ssh://git:pw@git.example.com/app.git", err: true},
		"no path":      {in: "ssh://git.example.com", err: true},
		"other scheme": {in: "ftp://git.example.com/app.git", err: true},
		"local path":   {in: "/srv/git/app.git", err: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			up, err := parseSSHUpstream(tc.in)
			if (err != nil) != tc.err {
				t.Fatalf("parseSSHUpstream(%q) error %v, want error %v", tc.in, err, tc.err)
			}
			if err == nil && (up.user != tc.user || up.addr != tc.addr || up.path != tc.path) {
				t.Fatalf("got %+v", up)
			}
		})
	}
}
