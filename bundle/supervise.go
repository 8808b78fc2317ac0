package bundle

import (
	"encoding/json"
	"net/http"
)

// SuperviseResponse is the body of GET /requests.
type SuperviseResponse struct {
	// Held are the requests that were held for supervision, pending or
	// ended (at most maxHeld), oldest first. Denials never push one out.
	Held []HeldRequest `json:"held"`
	// Denied are the denied requests, one entry per aggregation key with
	// its count, first and last time (at most maxDenied), least recently
	// seen first.
	Denied []Decision `json:"denied"`
}

// NewSupervise returns the supervise endpoint on the network: GET
// /requests lists the held and denied requests the recorder kept, as
// JSON, in two lists, and /mcp (MCPPath) is the agent's MCP server over
// p (mcp.go). Both show the agent only its own traffic, scrubbed; the
// agent can ask and wait there, and nothing on any network listener
// decides an item or grants a host (operator.go).
func NewSupervise(rec *Recorder, p *Proxy) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(MCPPath, NewMCP(p))
	mux.HandleFunc("GET /requests", func(w http.ResponseWriter, r *http.Request) {
		resp := SuperviseResponse{Held: rec.Held(), Denied: rec.Denied()}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		enc.Encode(resp)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	return mux
}
