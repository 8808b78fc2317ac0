package bundle

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bottleplan/bottleplan/plan"
)

// The agent's side of supervise: a Model Context Protocol server
// (streamable HTTP, the official Go SDK) at /mcp on the supervise
// listener, bundle_ip:9090, which the guest env names in
// BOTTLEPLAN_SUPERVISE_URL. Its tools let the agent ask and wait, never
// decide:
//
//   - held_requests: the pending items (held requests, access requests,
//     questions) of this instance, scrubbed, with their IDs. An ID gives
//     no power: no tool and no path the agent can reach takes one.
//   - request_access(host, reason): asks the operator to allow host[:port]
//     (443 when absent) for this instance until it is destroyed; the call
//     waits until the operator approves or denies, or the hold timeout
//     passes, and its result says which.
//   - ask_operator(question): waits for the operator's answer, which is
//     the result, or for the hold timeout.
//
// The server is stateless: every POST is its own session, so there is no
// session table an agent could fill, and a call that waits holds one
// connection (bounded by maxAgentConns) and one pending item (bounded by
// maxAgentAsks). Every text the agent sends is bounded (maxAskText,
// maxAskHost, maxMCPBody) and scrubbed of secret values before it is
// listed or logged; the operator's answers are scrubbed before the agent
// reads them. An agent that hangs up on a waiting call ends its item, as
// a held request's client does.

// MCPPath is where the supervise listener serves MCP.
const MCPPath = plan.SuperviseMCPPath

// operatorHost is the host of a decision-log line about a question, or
// an access request refused before it named a valid host: the line is
// about the agent's channel to the operator, not a network host.
const operatorHost = "operator"

// The tools' inputs and outputs (their JSON schemas come from these).
type (
	heldRequestsIn  struct{}
	heldRequestsOut struct {
		Items []Item `json:"items" jsonschema:"the pending items, oldest first"`
	}
	requestAccessIn struct {
		Host   string `json:"host" jsonschema:"the DNS name to reach, with :port when it is not 443 (no IP, no wildcard, no URL)"`
		Reason string `json:"reason" jsonschema:"why you need it, for the operator"`
	}
	askOperatorIn struct {
		Question string `json:"question" jsonschema:"the question for the operator"`
	}
	// askOut is the outcome of request_access and ask_operator.
	askOut struct {
		ID string `json:"id"`
		// Outcome is approved, denied, answered or timed_out.
		Outcome string `json:"outcome"`
		// Host is the host:port asked for (request_access).
		Host string `json:"host,omitempty"`
		// Text is the operator's reason or answer, scrubbed.
		Text string `json:"text,omitempty"`
	}
)

// NewMCP returns the agent's MCP endpoint over p's pending items.
func NewMCP(p *Proxy) http.Handler {
	calls := &httpCalls{m: map[string]context.Context{}}
	srv := mcp.NewServer(&mcp.Implementation{Name: "bottleplan-supervise", Version: "1"}, &mcp.ServerOptions{
		Instructions: "The operator of this sandbox answers here. request_access asks for a host your egress routes do not allow; " +
			"ask_operator asks a question; both wait for the operator. held_requests lists what waits for the operator now.",
	})
	mcp.AddTool(srv, &mcp.Tool{
		Name:        "held_requests",
		Description: "List this sandbox's items waiting for the operator: requests the egress proxy holds for supervision (method, host, path, why), access requests and questions, secrets redacted.",
	}, func(ctx context.Context, _ *mcp.CallToolRequest, _ heldRequestsIn) (*mcp.CallToolResult, heldRequestsOut, error) {
		items := p.Pending()
		return textResult(fmt.Sprintf("%d item(s) waiting for the operator", len(items)), false), heldRequestsOut{Items: items}, nil
	})
	mcp.AddTool(srv, &mcp.Tool{
		Name: "request_access",
		Description: "Ask the operator to allow HTTPS (or HTTP) to one host the egress routes do not allow, for this sandbox until it is destroyed. " +
			"Waits until the operator decides or the hold timeout passes. A granted host gets no credentials injected and its requests are still checked for secrets.",
	}, func(ctx context.Context, req *mcp.CallToolRequest, in requestAccessIn) (*mcp.CallToolResult, askOut, error) {
		ctx, cancel := calls.bind(ctx, req)
		defer cancel()
		return p.requestAccess(ctx, in)
	})
	mcp.AddTool(srv, &mcp.Tool{
		Name:        "ask_operator",
		Description: "Ask the operator a question in free text; waits for the answer (the result) or the hold timeout.",
	}, func(ctx context.Context, req *mcp.CallToolRequest, in askOperatorIn) (*mcp.CallToolResult, askOut, error) {
		ctx, cancel := calls.bind(ctx, req)
		defer cancel()
		return p.askOperator(ctx, in)
	})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{
		Stateless:                    true,
		JSONResponse:                 true,
		MaxRequestBodyBytes:          maxMCPBody,
		PropagateRequestCancellation: true,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxMCPBody)
		defer calls.track(r)()
		h.ServeHTTP(w, r)
	})
}

// callHeader carries, from the /mcp handler to a tool, the key of the
// HTTP request the call came in; whatever the agent sent in it is
// replaced.
const callHeader = "X-Bottleplan-Mcp-Call"

// httpCalls ties a waiting tool call to the HTTP request it came in, so
// an agent that hangs up ends its item (the SDK ties a call's context to
// its request only for its newest protocol version).
type httpCalls struct {
	mu sync.Mutex
	m  map[string]context.Context
}

// track registers r under a fresh key (set in r's callHeader) until the
// returned func runs.
func (c *httpCalls) track(r *http.Request) func() {
	key, err := newItemID()
	if err != nil {
		r.Header.Del(callHeader)
		return func() {}
	}
	r.Header.Set(callHeader, key)
	c.mu.Lock()
	c.m[key] = r.Context()
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		delete(c.m, key)
		c.mu.Unlock()
	}
}

// bind returns ctx, also cancelled when the HTTP request of req ends.
func (c *httpCalls) bind(ctx context.Context, req *mcp.CallToolRequest) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	if req == nil || req.Extra == nil || req.Extra.Header == nil {
		return ctx, cancel
	}
	c.mu.Lock()
	hctx, ok := c.m[req.Extra.Header.Get(callHeader)]
	c.mu.Unlock()
	if ok {
		stop := context.AfterFunc(hctx, cancel)
		return ctx, func() { stop(); cancel() }
	}
	return ctx, cancel
}

func textResult(text string, isErr bool) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}, IsError: isErr}
}

// askText checks one text the agent sends (reason, question): valid
// UTF-8, not empty when required, at most max bytes; it returns it
// scrubbed of secret values.
func (p *Proxy) askText(name, s string, required bool, max int) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case required && s == "":
		return "", fmt.Errorf("%s is empty", name)
	case len(s) > max:
		return "", fmt.Errorf("%s is longer than the %d bytes allowed", name, max)
	case !utf8.ValidString(s):
		return "", fmt.Errorf("%s is not valid UTF-8", name)
	}
	return p.secrets.scrub(s), nil
}

// refuseAsk logs a refused ask (aggregated like every refusal) and
// answers the agent with a tool error.
func (p *Proxy) refuseAsk(method, host string, port int, err error) (*mcp.CallToolResult, askOut, error) {
	if host == "" {
		host = operatorHost
	}
	p.rec.Record(Decision{Daemon: "supervise", Verdict: VerdictDeny, Method: method, Host: host, Port: port, Reason: refusalKey(err)})
	return textResult(p.secrets.scrub(err.Error()), true), askOut{}, nil
}

// refusalKey is a refusal's logged reason: the error's text, which names
// bounds and rules, never the agent's text (validation errors say what
// was wrong, not what was sent), so floods aggregate.
func refusalKey(err error) string { return "ask refused: " + err.Error() }

func (p *Proxy) requestAccess(ctx context.Context, in requestAccessIn) (*mcp.CallToolResult, askOut, error) {
	if len(in.Host) > maxAskHost {
		return p.refuseAsk("ACCESS", "", 0, fmt.Errorf("host is longer than %d bytes", maxAskHost))
	}
	if found := p.secrets.scanBytes([]byte(in.Host)); len(found) > 0 {
		return p.refuseAsk("ACCESS", "", 0, fmt.Errorf("host carries the value of secret %s; a secret never goes into a host name", strings.Join(found, ", ")))
	}
	host, port, err := p.parseAccessHost(in.Host)
	if err != nil {
		return p.refuseAsk("ACCESS", "", 0, err)
	}
	reason, err := p.askText("reason", in.Reason, true, maxAskText)
	if err != nil {
		return p.refuseAsk("ACCESS", host, port, err)
	}
	hp := host + ":" + strconv.Itoa(port)
	it, err := p.holds.add(Item{Kind: KindAccess, Host: hp, Reason: reason}, 0)
	if err != nil {
		return p.refuseAsk("ACCESS", host, port, err)
	}
	d := Decision{Daemon: "supervise", Verdict: VerdictAsk, Method: "ACCESS", Host: host, Port: port, ID: it.item.ID}
	d.Reason = "access requested: " + reason
	p.rec.Record(d)
	how, text := p.holds.wait(ctx, it)
	text = capText(p.secrets.scrub(text))
	out := askOut{ID: it.item.ID, Host: hp, Text: text}
	var msg string
	switch how {
	case outcomeApproved:
		out.Outcome, msg = "approved", fmt.Sprintf("approved: %s is allowed for this sandbox until it is destroyed (no credentials are injected; requests carrying secrets are blocked)", hp)
	case outcomeDenied:
		out.Outcome, msg = "denied", "denied by operator: "+orNoReason(text)
	case outcomeTimedOut:
		out.Outcome, msg = "timed_out", fmt.Sprintf("not decided within %s: the host stays blocked", p.holds.timeout)
	case outcomeGone:
		out.Outcome, msg = "gone", "the call ended before the operator decided"
	}
	if how == outcomeApproved && text != "" {
		msg += "; operator's note: " + text
	}
	d.Reason = msg
	p.rec.Record(d)
	return textResult(msg, how != outcomeApproved), out, nil
}

func (p *Proxy) askOperator(ctx context.Context, in askOperatorIn) (*mcp.CallToolResult, askOut, error) {
	q, err := p.askText("question", in.Question, true, maxAskText)
	if err != nil {
		return p.refuseAsk("QUESTION", "", 0, err)
	}
	it, err := p.holds.add(Item{Kind: KindQuestion, Question: q}, 0)
	if err != nil {
		return p.refuseAsk("QUESTION", "", 0, err)
	}
	d := Decision{Daemon: "supervise", Verdict: VerdictAsk, Method: "QUESTION", Host: operatorHost, ID: it.item.ID, Reason: "question: " + q}
	p.rec.Record(d)
	how, text := p.holds.wait(ctx, it)
	text = capText(p.secrets.scrub(text))
	out := askOut{ID: it.item.ID, Text: text}
	var msg string
	switch how {
	case outcomeAnswered:
		out.Outcome, msg = "answered", text
		d.Reason = "answered by operator"
	case outcomeTimedOut:
		out.Outcome, msg = "timed_out", fmt.Sprintf("no answer within %s", p.holds.timeout)
		d.Reason = msg
	default:
		out.Outcome, msg = "gone", "the call ended before the operator answered"
		d.Reason = msg
	}
	p.rec.Record(d)
	return textResult(msg, how != outcomeAnswered), out, nil
}

func orNoReason(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

// capText bounds what the operator sends the agent.
func capText(s string) string {
	if len(s) <= maxAnswerText {
		return s
	}
	return strings.ToValidUTF8(s[:maxAnswerText], "")
}
