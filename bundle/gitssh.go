package bundle

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// The git gate bridges smart HTTP to ssh upstreams (key provider
// "static") by running the service on the upstream over ssh, one ssh
// session per HTTP request, exactly as `git http-backend` runs one
// process per request:
//
//   - GET info/refs?service=S runs S, reads its advertisement up to the
//     first flush packet, ends the session with a flush (the "I want
//     nothing" answer every service accepts) and returns the
//     advertisement, behind the "# service=S" header unless the upstream
//     answered in protocol v2 (as http-backend does).
//   - POST S runs S, discards its advertisement, writes the request body
//     (un-gzipped), closes stdin and streams stdout back until the
//     session ends. For protocol v2 and for push this is the whole
//     exchange; for a protocol v0 fetch round that is not "done" the
//     upstream answers the round and then sees end of input, which is
//     what a stateless round is.
//
// The client's Git-Protocol header (e.g. "version=2") is passed as
// GIT_PROTOCOL through an ssh env request; a server that refuses it
// answers in v0 and the client follows.
//
// Trust: the upstream's host key must be given (plan host_key, an
// authorized_keys line); the gate does not trust on first use. The
// private key is read, at each request, from sshKeyDir/<repo name>
// inside the bundle container (SSHKeyDir in GitGateOptions).

// sshUpstream is a parsed ssh:// or scp-form upstream.
type sshUpstream struct {
	user, addr, path string
}

// scpForm matches "user@host:path" (no scheme, no slash before the
// colon).
var scpForm = regexp.MustCompile(`^(?:([^@/:]+)@)?([^@/:]+):(.+)$`)

// parseSSHUpstream parses ssh://[user@]host[:port]/path and the scp form
// [user@]host:path. The user defaults to "git", the port to 22.
func parseSSHUpstream(s string) (*sshUpstream, error) {
	if strings.HasPrefix(s, "ssh://") {
		u, err := url.Parse(s)
		if err != nil || u.Hostname() == "" || u.Path == "" {
			return nil, fmt.Errorf("upstream %q is not ssh://host/path", s)
		}
		if _, has := u.User.Password(); has {
			return nil, fmt.Errorf("upstream %q carries a password", s)
		}
		up := &sshUpstream{user: u.User.Username(), path: u.Path}
		port := u.Port()
		if port == "" {
			port = "22"
		}
		up.addr = net.JoinHostPort(u.Hostname(), port)
		if up.user == "" {
			up.user = "git"
		}
		return up, nil
	}
	m := scpForm.FindStringSubmatch(s)
	if m == nil || strings.Contains(s, "://") {
		return nil, fmt.Errorf("upstream %q is neither https://, ssh:// nor user@host:path", s)
	}
	up := &sshUpstream{user: m[1], addr: net.JoinHostPort(m[2], "22"), path: m[3]}
	if up.user == "" {
		up.user = "git"
	}
	return up, nil
}

// shellQuote quotes s for the remote shell as git does (sq_quote_buf).
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// gitProtocolValue accepts the Git-Protocol values git sends
// ("version=2", colon-separated key=value pairs) and nothing else, since
// it is handed to the upstream's environment.
var gitProtocolValue = regexp.MustCompile(`^[A-Za-z0-9._=:-]{1,64}$`)

// sshDial opens an ssh client to the repo's upstream.
func (g *GitGate) sshDial(ctx context.Context, repo *gateRepo) (*ssh.Client, error) {
	if repo.HostKey == "" {
		return nil, fmt.Errorf("repo %s has no host_key; the gate does not trust an ssh host on first use, so add the upstream's host key line to the manifest", repo.Name)
	}
	hostKey, _, _, _, err := ssh.ParseAuthorizedKey([]byte(repo.HostKey))
	if err != nil {
		return nil, fmt.Errorf("repo %s: host_key is not an authorized_keys line: %v", repo.Name, err)
	}
	keyPath := filepath.Join(g.sshKeyDir, repo.Name)
	pemBytes, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("repo %s: ssh key not found in the bundle (%v)", repo.Name, err)
	}
	signer, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("repo %s: ssh key %s: %v (passphrase-protected keys are not supported)", repo.Name, keyPath, err)
	}
	conn, err := g.dial(ctx, "tcp", repo.ssh.addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	cc, chans, reqs, err := ssh.NewClientConn(conn, repo.ssh.addr, &ssh.ClientConfig{
		User:            repo.ssh.user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(hostKey),
		Timeout:         15 * time.Second,
	})
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(cc, chans, reqs), nil
}

// sshSession is one running git service on the upstream.
type sshSession struct {
	client *ssh.Client
	sess   *ssh.Session
	stdin  io.WriteCloser
	stdout *bufio.Reader
}

func (s *sshSession) Close() {
	s.sess.Close()
	s.client.Close()
}

// startService runs svc for repo over ssh, with GIT_PROTOCOL from the
// request when it carries one.
func (g *GitGate) startService(r *http.Request, repo *gateRepo, svc string) (*sshSession, error) {
	hctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	client, err := g.sshDial(hctx, repo)
	if err != nil {
		return nil, err
	}
	sess, err := client.NewSession()
	if err != nil {
		client.Close()
		return nil, err
	}
	s := &sshSession{client: client, sess: sess}
	if gp := r.Header.Get("Git-Protocol"); gp != "" && gitProtocolValue.MatchString(gp) {
		// A server that does not accept the variable answers in v0.
		_ = sess.Setenv("GIT_PROTOCOL", gp)
	}
	if s.stdin, err = sess.StdinPipe(); err != nil {
		s.Close()
		return nil, err
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		s.Close()
		return nil, err
	}
	s.stdout = bufio.NewReader(out)
	if err := sess.Start(svc + " " + shellQuote(repo.ssh.path)); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// readAdvertisement reads pkt-lines up to and including the first flush
// packet and returns them raw.
func readAdvertisement(r *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, fmt.Errorf("read advertisement: %w", err)
		}
		var n int
		if _, err := fmt.Sscanf(string(hdr[:]), "%04x", &n); err != nil {
			return nil, fmt.Errorf("bad pkt-line length %q", hdr[:])
		}
		out = append(out, hdr[:]...)
		if n == 0 {
			return out, nil
		}
		if n < 4 {
			return nil, fmt.Errorf("unexpected special packet %04x in advertisement", n)
		}
		payload := make([]byte, n-4)
		if _, err := io.ReadFull(r, payload); err != nil {
			return nil, fmt.Errorf("read advertisement: %w", err)
		}
		out = append(out, payload...)
	}
}

// pktLine encodes s as one pkt-line.
func pktLine(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }

// serveSSH answers one smart-HTTP request for a repo with an ssh
// upstream.
func (g *GitGate) serveSSH(w http.ResponseWriter, r *http.Request, repo *gateRepo, svc string, d Decision) {
	fail := func(err error) {
		d.Verdict, d.Reason = VerdictError, "upstream: "+g.secrets.scrub(err.Error())
		g.rec.Record(d)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, "bottleplan git gate: "+g.secrets.scrub(err.Error())+"\n")
	}
	s, err := g.startService(r, repo, svc)
	if err != nil {
		fail(err)
		return
	}
	defer s.Close()
	adv, err := readAdvertisement(s.stdout)
	if err != nil {
		fail(err)
		return
	}
	d.Verdict = VerdictAllow
	if r.Method == http.MethodGet {
		// Tell the service we want nothing, so it exits cleanly.
		io.WriteString(s.stdin, "0000")
		s.stdin.Close()
		g.rec.Record(d)
		w.Header().Set("Content-Type", "application/x-"+svc+"-advertisement")
		w.Header().Set("Cache-Control", "no-cache")
		if !strings.HasPrefix(string(adv), pktLine("version 2\n")) {
			io.WriteString(w, pktLine("# service="+svc+"\n")+"0000")
		}
		w.Write(adv)
		return
	}
	body := io.Reader(r.Body)
	if enc := r.Header.Get("Content-Encoding"); enc == "gzip" || enc == "x-gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			fail(fmt.Errorf("request body: %v", err))
			return
		}
		body = zr
	}
	copyErr := make(chan error, 1)
	go func() {
		_, err := io.Copy(s.stdin, body)
		s.stdin.Close()
		copyErr <- err
	}()
	g.rec.Record(d)
	w.Header().Set("Content-Type", "application/x-"+svc+"-result")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fw := &flushWriter{w: w}
	if _, err := io.Copy(fw, s.stdout); err != nil && !errors.Is(err, io.EOF) {
		return
	}
	<-copyErr
	s.sess.Wait()
}

// flushWriter flushes after every write so sideband progress and packs
// stream to the client.
type flushWriter struct{ w http.ResponseWriter }

func (f *flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}
