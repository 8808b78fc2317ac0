package bundle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// Request bodies on intercepted routes are read whole before anything is
// forwarded, so DLP can read them. Each read holds up to maxInspectBody
// bytes (and decoding may hold maxDecodedBody more), so the number of
// bodies read at once is capped by inspectSlots: a prompt-injected agent
// that opens many uploads and stalls them pins at most maxInspectBodies
// bodies, not one per connection. A body that finds no free slot waits
// while its request lives, at most inspectWait, then is refused with 403
// "blocked: too many requests being inspected" (403 like every refusal of
// the proxy, so the agent sees one kind of answer; it may retry). A slot
// is held until the request is answered: the body stays in memory while
// it is forwarded.

// inspectSlots is a counting semaphore over body inspection, with gauges
// of what it holds.
type inspectSlots struct {
	ch   chan struct{}
	wait time.Duration

	// held is the number of body bytes read by requests holding a slot;
	// peak and peakHeld are the most slots and bytes ever held at once.
	active, held, peak, peakHeld atomic.Int64
}

func newInspectSlots(n int, wait time.Duration) *inspectSlots {
	return &inspectSlots{ch: make(chan struct{}, n), wait: wait}
}

// errInspectBusy is the refusal when every slot stays taken.
var errInspectBusy = fmt.Errorf("too many requests being inspected (%d at once); retry later", maxInspectBodies)

// acquire takes a slot, waiting at most s.wait and never past ctx.
func (s *inspectSlots) acquire(ctx context.Context) error {
	select {
	case s.ch <- struct{}{}:
	default:
		t := time.NewTimer(s.wait)
		defer t.Stop()
		select {
		case s.ch <- struct{}{}:
		case <-ctx.Done():
			return errInspectBusy
		case <-t.C:
			return errInspectBusy
		}
	}
	raise(&s.peak, s.active.Add(1))
	return nil
}

func (s *inspectSlots) release(n int64) {
	s.held.Add(-n)
	s.active.Add(-1)
	<-s.ch
}

// raise sets *peak to v when v is larger.
func raise(peak *atomic.Int64, v int64) {
	for {
		p := peak.Load()
		if v <= p || peak.CompareAndSwap(p, v) {
			return
		}
	}
}

// countingReader adds what it reads to the slots' held gauge.
type countingReader struct {
	r io.Reader
	s *inspectSlots
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	raise(&c.s.peakHeld, c.s.held.Add(int64(n)))
	return n, err
}

// readBody reads the whole request body, refusing one over
// maxInspectBody or one that finds no inspection slot. The caller must
// call release once the request is answered.
func (p *Proxy) readBody(r *http.Request) (body []byte, release func(), err error) {
	none := func() {}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, none, nil
	}
	defer r.Body.Close()
	if r.ContentLength > maxInspectBody {
		return nil, none, fmt.Errorf("request body of %d bytes is over the %d MiB that can be inspected", r.ContentLength, maxInspectBody>>20)
	}
	if err := p.inspect.acquire(r.Context()); err != nil {
		return nil, none, err
	}
	cr := &countingReader{r: io.LimitReader(r.Body, maxInspectBody+1), s: p.inspect}
	release = func() { p.inspect.release(cr.n) }
	b, err := io.ReadAll(cr)
	if err != nil {
		release()
		if errors.Is(err, context.Canceled) {
			return nil, none, errors.New("request body was cut off")
		}
		return nil, none, fmt.Errorf("read request body: %v", err)
	}
	if len(b) > maxInspectBody {
		release()
		return nil, none, fmt.Errorf("request body is over the %d MiB that can be inspected", maxInspectBody>>20)
	}
	return b, release, nil
}

// setBody makes body the request's body with a matching length, and
// drops the request's trailers: DLP cannot read a trailer before the
// body is sent, and an HTTP/2 upstream would receive it, so none is
// forwarded.
func setBody(r *http.Request, body []byte) {
	r.Trailer = nil
	r.Header.Del("Trailer")
	r.Header.Del("Transfer-Encoding")
	r.TransferEncoding = nil
	if len(body) == 0 && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		r.Body, r.ContentLength = http.NoBody, 0
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
}
