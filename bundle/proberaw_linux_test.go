package bundle

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bottleplan/bottleplan/bundle/probewire"
)

// capNetRaw is CAP_NET_RAW's bit in /proc/self/status CapEff.
const capNetRaw = 13

// TestProbeRawSocket: the raw-socket probe opens each socket exactly
// when the kernel says this process holds CAP_NET_RAW, and otherwise
// reports EPERM; an unknown socket is an error, not a pass.
func TestProbeRawSocket(t *testing.T) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	var capEff uint64
	for l := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			capEff, _ = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	canRaw := capEff&(1<<capNetRaw) != 0
	p := NewProber(time.Second, nil)
	tests := map[string]struct {
		socket    string
		reached   bool
		errno     string
		errSubstr string
	}{
		"inet raw":       {probewire.SocketInetRaw, canRaw, map[bool]string{true: "", false: "EPERM"}[canRaw], ""},
		"packet":         {probewire.SocketPacket, canRaw, map[bool]string{true: "", false: "EPERM"}[canRaw], ""},
		"unknown socket": {"inet-stream", false, "", "unknown socket"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := p.Run(context.Background(), []probewire.Target{{Name: "raw", Kind: probewire.RawSocket, Socket: tc.socket}})[0]
			if r.Reached != tc.reached || r.Errno != tc.errno || !strings.Contains(r.Error, tc.errSubstr) {
				t.Errorf("CAP_NET_RAW %v: got reached %v errno %q error %q; want reached %v errno %q error containing %q",
					canRaw, r.Reached, r.Errno, r.Error, tc.reached, tc.errno, tc.errSubstr)
			}
		})
	}
}
