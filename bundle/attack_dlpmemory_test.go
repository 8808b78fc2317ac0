package bundle

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// denseEscapes is a body of n bytes whose percent- and JSON-escapes
// decode into each other for several rounds, in both orders: each round
// of decoding makes another view of nearly the whole body.
func denseEscapes(n int) []byte {
	unit := `\u0025252541%5Cu00252541%255Cu0041 `
	return []byte(strings.Repeat(unit, n/len(unit)))
}

// TestAttackDLPViewMemory is the attack "one request makes the bundle
// hold many decoded copies of a large body": a 16 MiB body dense with
// escapes of both kinds made 19 views and 272 MiB of allocations (four
// at once, one per inspection slot, exceed the bundle container's
// memory). The views of one request now take at most maxScanViews (plus
// the one step that spent it), and a request that needs more is refused;
// an ordinary large JSON body with escapes still fits.
func TestAttackDLPViewMemory(t *testing.T) {
	views := func(body []byte) (int, error) {
		r := httptest.NewRequest(http.MethodPost, "https://api.example.test/upload", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		total := 0
		err := requestViews(r, body, func(_ string, b []byte) { total += len(b) })
		return total - len(body) - len("POST") - len("/upload"), err
	}
	dense := denseEscapes(maxInspectBody)
	got, err := views(dense)
	t.Logf("dense 16 MiB body: %d MiB of views, err %v", got>>20, err)
	if bound := maxScanViews + 2*maxInspectBody; got > bound {
		t.Errorf("a dense body made %d MiB of views, over the %d MiB bound", got>>20, bound>>20)
	}
	if err == nil {
		t.Errorf("a body that needs %d MiB of views was read, want it refused", got>>20)
	}

	var js bytes.Buffer
	for js.Len() < maxInspectBody-64 {
		js.WriteString(`{"text": "caf\u00e9 na\u00efve", "n": 1}` + "\n")
	}
	if _, err := views(js.Bytes()); err != nil {
		t.Errorf("an ordinary %d MiB JSON body was refused: %v", js.Len()>>20, err)
	}
}
