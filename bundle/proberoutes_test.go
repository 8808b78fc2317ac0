package bundle

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bottleplan/bottleplan/bundle/probewire"
	"github.com/google/go-cmp/cmp"
)

// routeHeader is /proc/net/route's header, tabs and trailing blanks as
// the kernel prints them.
const routeHeader = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                                       \n"

// littleEndian reports whether the kernel's hex words below, written as
// a little-endian machine prints them, are this machine's byte order.
func littleEndian() bool {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], 1)
	return b[0] == 1
}

func TestParseRoutes(t *testing.T) {
	if !littleEndian() {
		t.Skip("the fixtures are a little-endian kernel's /proc/net/route")
	}
	tests := map[string]struct {
		table string
		want  []probewire.Route
		err   string
	}{
		"internal network": {
			table: routeHeader +
				"eth0\t00000000\t0100090A\t0003\t0\t0\t0\t00000000\t0\t0\t0                                                                               \n" +
				"eth0\t0000090A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0                                                                               \n",
			want: []probewire.Route{
				{Iface: "eth0", Dest: "0.0.0.0/0", Gateway: "10.9.0.1", Flags: probewire.RouteUp | probewire.RouteGateway},
				{Iface: "eth0", Dest: "10.9.0.0/24", Gateway: "0.0.0.0", Flags: probewire.RouteUp},
			},
		},
		"host and reject routes": {
			table: routeHeader +
				"eth1\t0F0011AC\t010011AC\t0007\t0\t0\t0\tFFFFFFFF\t0\t0\t0\n" +
				"*\t0000A8C0\t00000000\t0200\t0\t0\t0\t0000FFFF\t0\t0\t0\n",
			want: []probewire.Route{
				{Iface: "eth1", Dest: "172.17.0.15/32", Gateway: "172.17.0.1", Flags: probewire.RouteUp | probewire.RouteGateway | probewire.RouteHost},
				{Iface: "*", Dest: "192.168.0.0/16", Gateway: "0.0.0.0", Flags: probewire.RouteReject},
			},
		},
		"no routes":          {table: routeHeader, want: []probewire.Route{}},
		"columns reordered":  {table: "Mask Flags Gateway Destination Iface\n00F0FFFF 0001 00000000 0000090A eth0\n", want: []probewire.Route{{Iface: "eth0", Dest: "10.9.0.0/20", Gateway: "0.0.0.0", Flags: probewire.RouteUp}}},
		"empty file":         {table: "", err: "empty, not even a header"},
		"no mask column":     {table: "Iface Destination Gateway Flags\n", err: "no Mask column"},
		"short line":         {table: routeHeader + "eth0\t00000000\t0100090A\n", err: "line 2: 3 fields"},
		"bad destination":    {table: routeHeader + "eth0\t0000090X\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n", err: "line 2: destination"},
		"short gateway":      {table: routeHeader + "eth0\t00000000\t100090A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n", err: "line 2: gateway"},
		"mask not a prefix":  {table: routeHeader + "eth0\t0000090A\t00000000\t0001\t0\t0\t0\t00FF00FF\t0\t0\t0\n", err: "mask 255.0.255.0 is not a prefix"},
		"flags not hex":      {table: routeHeader + "eth0\t0000090A\t00000000\tup\t0\t0\t0\t00FFFFFF\t0\t0\t0\n", err: "line 2: flags"},
		"blank lines ignore": {table: routeHeader + "\n", want: []probewire.Route{}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseRoutes([]byte(tt.table))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseRoutes error = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("routes (-want +got):\n%s", d)
			}
		})
	}
}

// TestProbeRoutes runs the routes probe through the runner: from a
// fixture, from a missing file, and from this machine's own table,
// which must parse wherever the runner runs (Linux).
func TestProbeRoutes(t *testing.T) {
	if !littleEndian() {
		t.Skip("the fixture is a little-endian kernel's /proc/net/route")
	}
	dir := t.TempDir()
	fixture := filepath.Join(dir, "route")
	if err := os.WriteFile(fixture, []byte(routeHeader+"eth0\t0000090A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	target := []probewire.Target{{Name: "routes", Kind: probewire.Routes}}
	p := NewProber(time.Second, nil)

	p.RouteFile = fixture
	r := p.Run(context.Background(), target)[0]
	want := []probewire.Route{{Iface: "eth0", Dest: "10.9.0.0/24", Gateway: "0.0.0.0", Flags: probewire.RouteUp}}
	if !r.Reached || r.Error != "" || r.Name != "routes" || r.Kind != probewire.Routes || !cmp.Equal(r.Routes, want) {
		t.Errorf("routes probe of the fixture: %+v; want %v", r, want)
	}

	p.RouteFile = filepath.Join(dir, "missing")
	if r := p.Run(context.Background(), target)[0]; r.Reached || !strings.Contains(r.Error, "read the routing table") {
		t.Errorf("routes probe of a missing file: %+v; want an error", r)
	}

	if runtime.GOOS != "linux" {
		return
	}
	p.RouteFile = ""
	if r := p.Run(context.Background(), target)[0]; !r.Reached || r.Error != "" {
		t.Errorf("routes probe of %s: %+v", routeFile, r)
	}
}
