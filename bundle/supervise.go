package bundle

import (
	"encoding/json"
	"net/http"
)

// SuperviseResponse is the body of GET /requests.
type SuperviseResponse struct {
	// Requests are the most recent held and denied decisions (at most
	// maxKept), oldest first.
	Requests []Decision `json:"requests"`
}

// NewSupervise returns the supervise endpoint: GET /requests lists the
// held and blocked requests the recorder kept, as JSON. It is read-only:
// held requests have already been answered with 403 (see dlp.go), so
// there is nothing to release.
func NewSupervise(rec *Recorder) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /requests", func(w http.ResponseWriter, r *http.Request) {
		resp := SuperviseResponse{Requests: rec.Kept()}
		if resp.Requests == nil {
			resp.Requests = []Decision{}
		}
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
