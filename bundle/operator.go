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
	"strings"

	"github.com/bottleplan/bottleplan/plan"
)

// The operator API decides on pending items (items.go) and manages
// runtime grants (grants.go). It is served only on a unix socket inside
// the bundle container (OperatorSocket, mode 0600, owned by the bundle's
// user), on no network: the agent, another container with no shared
// mount, cannot reach it, and the host reaches it through the Engine's
// exec API (`bottleplan-bundle ctl`, the path `docker exec` takes),
// which needs the Docker API access apply already has. Nothing on a
// network listener (supervise.go, mcp.go) decides: an ID read there gives
// no power, as nothing the agent can reach takes one.
//
//	GET    /items              {"items": [Item...]}, oldest first, every kind
//	POST   /items/{id}/approve {"reason": "..."} optional; held, access
//	POST   /items/{id}/deny    {"reason": "..."} optional; held, access
//	POST   /items/{id}/answer  {"text": "..."} required; question
//	GET    /grants             {"grants": [Grant...]}
//	DELETE /grants             {"revoked": N}
//
// Errors answer {"error": ...}: 404 an unknown ID, 409 a verb that does
// not fit the item's kind (the message says which does), 400 a bad body.

// OperatorSocket is where the bundle serves the operator API in its
// container.
const OperatorSocket = plan.BundleOperatorSocket

// maxOperatorBody bounds a decision's JSON body.
const maxOperatorBody = 16 << 10

// NewOperator returns the operator API over p's pending items and
// grants.
func NewOperator(p *Proxy) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, ItemList{Items: p.Pending()})
	})
	decide := func(verb string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			text, err := decisionText(r, verb)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, OperatorError{Error: verb + " body: " + err.Error()})
				return
			}
			id := r.PathValue("id")
			it, err := p.Decide(id, verb, text)
			if err != nil {
				code := http.StatusInternalServerError
				switch {
				case errors.Is(err, ErrNoSuchItem):
					code = http.StatusNotFound
				case errors.Is(err, ErrWrongKind):
					code = http.StatusConflict
				}
				writeJSON(w, code, OperatorError{Error: fmt.Sprintf("%s: %v", id, err)})
				return
			}
			writeJSON(w, http.StatusOK, map[string]string{"id": id, "kind": string(it.Kind), "decided": decidedWord[verb]})
		}
	}
	mux.HandleFunc("POST /items/{id}/approve", decide("approve"))
	mux.HandleFunc("POST /items/{id}/deny", decide("deny"))
	mux.HandleFunc("POST /items/{id}/answer", decide("answer"))
	mux.HandleFunc("GET /grants", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, GrantList{Grants: p.Grants()})
	})
	mux.HandleFunc("DELETE /grants", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, Revoked{Revoked: p.RevokeGrants()})
	})
	return mux
}

var decidedWord = map[string]string{"approve": "approved", "deny": "denied", "answer": "answered"}

// decisionText reads the reason (approve, deny; optional) or the text
// (answer; required) from r's JSON body.
func decisionText(r *http.Request, verb string) (string, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxOperatorBody+1))
	if err != nil {
		return "", err
	}
	if len(body) > maxOperatorBody {
		return "", fmt.Errorf("longer than %d bytes", maxOperatorBody)
	}
	var text string
	if verb == "answer" {
		var a AnswerRequest
		if err := json.Unmarshal(body, &a); err != nil {
			return "", err
		}
		if strings.TrimSpace(a.Text) == "" {
			return "", errors.New(`an answer needs {"text": "..."}`)
		}
		text = a.Text
	} else if len(body) > 0 {
		var d DecisionRequest
		if err := json.Unmarshal(body, &d); err != nil {
			return "", err
		}
		text = d.Reason
	}
	if len(text) > maxAnswerText {
		return "", fmt.Errorf("the text is longer than %d bytes", maxAnswerText)
	}
	return text, nil
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
