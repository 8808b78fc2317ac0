package bundle

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/bottleplan/bottleplan/plan"
)

// Options configure a Bundle.
type Options struct {
	// Instance is the plan instance the bundle serves.
	Instance plan.Instance
	// CA is the instance CA; required when a route intercepts.
	CA *CA
	// Getenv reads the bundle's secrets by NAME.
	Getenv func(string) string
	// Log receives the decision log, one JSON line per decision.
	Log io.Writer
	// Dial opens upstream connections; nil means PublicDialer().
	Dial DialFunc
	// RootCAs verifies upstream TLS; nil means the system pool.
	RootCAs *x509.CertPool
	// SSHKeyDir holds the git gate's ssh keys, one file per repo name.
	SSHKeyDir string
	// Timeouts bound idle and slow connections; zero fields take the
	// defaults in limits.go.
	Timeouts Timeouts
	// OperatorSocket is the unix socket the operator API (operator.go)
	// is served on when supervise is on; "" serves none (tests that
	// call the handler directly).
	OperatorSocket string
}

// Bundle is the set of daemons one bundle container runs, sharing one
// decision recorder.
type Bundle struct {
	inst     plan.Instance
	timeouts Timeouts
	// Recorder logs and keeps decisions.
	Recorder *Recorder
	// Proxy is the egress proxy.
	Proxy *Proxy
	// GitGate is nil when the plan has no git gate.
	GitGate *GitGate
	// Supervise is nil when supervise is off.
	Supervise http.Handler
	// Operator is the operator API; nil when supervise is off.
	Operator       http.Handler
	operatorSocket string
}

// New builds the daemons from the instance config.
func New(o Options) (*Bundle, error) {
	if o.Getenv == nil {
		return nil, errors.New("bundle: no Getenv")
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	cfg := o.Instance.Bundle
	// One secret set for every daemon, built (its matcher) once: the
	// proxy's and the git gate's DLP and scrubbing, and the recorder's
	// scrubber, which passes each field through it before writing or
	// keeping it.
	secrets := newSecretSet(cfg.SecretsFromHost, o.Getenv)
	b := &Bundle{
		inst:     o.Instance,
		timeouts: o.Timeouts.withDefaults(),
		Recorder: NewRecorder(o.Log, o.Instance.Slug, secrets.scrub),
	}
	var hold time.Duration
	if cfg.Supervise != nil && cfg.Supervise.HoldTimeout != "" {
		var err error
		if hold, err = time.ParseDuration(cfg.Supervise.HoldTimeout); err != nil || hold <= 0 {
			return nil, fmt.Errorf("supervise: hold timeout %q is not a positive Go duration", cfg.Supervise.HoldTimeout)
		}
	}
	px, err := NewProxy(ProxyOptions{
		Routes:      cfg.Proxy.Routes,
		CA:          o.CA,
		Getenv:      o.Getenv,
		SecretNames: cfg.SecretsFromHost,
		Recorder:    b.Recorder,
		Dial:        o.Dial,
		RootCAs:     o.RootCAs,
		Supervise:   cfg.Supervise != nil,
		HoldTimeout: hold,
		secrets:     secrets,
	})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	px.timeouts = b.timeouts
	b.Proxy = px
	if cfg.GitGate != nil {
		gg, err := NewGitGate(GitGateOptions{
			Repos:       cfg.GitGate.Repos,
			Getenv:      o.Getenv,
			SecretNames: cfg.SecretsFromHost,
			Recorder:    b.Recorder,
			Dial:        o.Dial,
			RootCAs:     o.RootCAs,
			SSHKeyDir:   o.SSHKeyDir,
			secrets:     secrets,
		})
		if err != nil {
			return nil, fmt.Errorf("git gate: %w", err)
		}
		b.GitGate = gg
	}
	if cfg.Supervise != nil {
		b.Supervise = NewSupervise(b.Recorder, b.Proxy)
		b.Operator = NewOperator(b.Proxy)
		b.operatorSocket = o.OperatorSocket
	}
	return b, nil
}

// Listener is one daemon's configured address.
type Listener struct {
	// Name is "proxy", "git-gate" or "supervise".
	Name    string
	Addr    string
	Handler http.Handler
}

// Listeners returns the daemons to serve with their plan addresses.
func (b *Bundle) Listeners() []Listener {
	cfg := b.inst.Bundle
	ls := []Listener{{"proxy", cfg.Proxy.Listen, b.Proxy}}
	if b.GitGate != nil {
		ls = append(ls, Listener{"git-gate", cfg.GitGate.Listen, b.GitGate})
	}
	if b.Supervise != nil {
		ls = append(ls, Listener{"supervise", cfg.Supervise.Listen, b.Supervise})
	}
	return ls
}

// Serve listens on every daemon's address and serves until ctx ends or
// one server fails; then it shuts all of them down and flushes the
// decision log's pending summaries. The servers carry the Timeouts
// (timeouts.go). ready, when not nil,
// is called with each daemon's bound address once it listens.
func (b *Bundle) Serve(ctx context.Context, ready func(name, addr string)) error {
	ls := b.Listeners()
	var lns []net.Listener
	for _, l := range ls {
		// An address without a host would listen on every interface,
		// the egress network's too.
		if h, _, err := net.SplitHostPort(l.Addr); err != nil || h == "" {
			for _, o := range lns {
				o.Close()
			}
			return fmt.Errorf("%s: listen address %q is not ip:port; the plan must name the bundle IP", l.Name, l.Addr)
		}
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			for _, o := range lns {
				o.Close()
			}
			return fmt.Errorf("%s: listen on %s: %w", l.Name, l.Addr, err)
		}
		lns = append(lns, stallListener{newLimitListener(ln, maxAgentConns), b.timeouts.WriteStall})
	}
	if b.Operator != nil && b.operatorSocket != "" {
		ln, err := listenOperator(b.operatorSocket)
		if err != nil {
			for _, o := range lns {
				o.Close()
			}
			return fmt.Errorf("operator: listen on %s: %w", b.operatorSocket, err)
		}
		ls = append(ls, Listener{"operator", b.operatorSocket, b.Operator})
		lns = append(lns, ln)
	}
	errc := make(chan error, len(ls))
	var srvs []*http.Server
	var wg sync.WaitGroup
	for i, l := range ls {
		srv := &http.Server{
			Handler:           bodyDeadlines(l.Handler, b.timeouts),
			ReadHeaderTimeout: b.timeouts.ReadHeader,
			ReadTimeout:       b.timeouts.ReadHeader + b.timeouts.BodyGrace,
			IdleTimeout:       b.timeouts.Idle,
			ErrorLog:          log.New(io.Discard, "", 0),
		}
		srvs = append(srvs, srv)
		if ready != nil {
			ready(l.Name, lns[i].Addr().String())
		}
		wg.Add(1)
		go func(name string, ln net.Listener) {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}(l.Name, lns[i])
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range srvs {
		s.Shutdown(sctx)
	}
	wg.Wait()
	b.Recorder.Flush()
	return err
}
