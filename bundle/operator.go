package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/bottleplan/bottleplan/plan"
)

// The operator API decides on held requests. It is served only on a
// unix socket inside the bundle container (OperatorSocket, mode 0600,
// owned by the bundle's user), on no network: the agent, another
// container with no shared mount, cannot reach it, and the host reaches
// it through the Engine's exec API (`bottleplan-bundle ctl`, the path
// `docker exec` takes), which needs the Docker API access apply already
// has. The supervise listener on the network (supervise.go) stays
// read-only: it lists the agent's own traffic, scrubbed, and decides
// nothing; an ID read there gives no power, as nothing the agent can
// reach takes one.
//
//	GET  /held               {"held": [PendingRequest...]}, oldest first
//	POST /held/{id}/approve  {"reason": "..."} optional
//	POST /held/{id}/deny     {"reason": "..."} optional
//
// An unknown ID answers 404 {"error": ...}.

// OperatorSocket is where the bundle serves the operator API in its
// container.
const OperatorSocket = plan.BundleOperatorSocket

// maxOperatorBody bounds a decision's JSON body.
const maxOperatorBody = 16 << 10

// HeldList is the body of GET /held.
type HeldList struct {
	Held []PendingRequest `json:"held"`
}

// NewOperator returns the operator API over p's held requests.
func NewOperator(p *Proxy) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /held", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, HeldList{Held: p.Pending()})
	})
	decide := func(approve bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var req DecisionRequest
			body, err := io.ReadAll(io.LimitReader(r.Body, maxOperatorBody))
			if err == nil && len(body) > 0 {
				err = json.Unmarshal(body, &req)
			}
			if err != nil {
				writeJSON(w, http.StatusBadRequest, OperatorError{"decision body: " + err.Error()})
				return
			}
			id := r.PathValue("id")
			if err := p.Decide(id, approve, req.Reason); err != nil {
				code := http.StatusInternalServerError
				if errors.Is(err, ErrNoSuchHold) {
					code = http.StatusNotFound
				}
				writeJSON(w, code, OperatorError{fmt.Sprintf("%s: %v", id, err)})
				return
			}
			writeJSON(w, http.StatusOK, map[string]string{"id": id, "decided": map[bool]string{true: "approved", false: "denied"}[approve]})
		}
	}
	mux.HandleFunc("POST /held/{id}/approve", decide(true))
	mux.HandleFunc("POST /held/{id}/deny", decide(false))
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// listenOperator listens on the unix socket path, readable and writable
// by the bundle's user only; a socket left by an earlier run is removed.
func listenOperator(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}
