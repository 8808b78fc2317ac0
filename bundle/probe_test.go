package bundle

import (
	"context"
	"encoding/binary"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bottleplan/bottleplan/bundle/probewire"
)

// fakeDNS answers A queries for the names in zone over UDP on loopback,
// NXDOMAIN for every other name and an empty answer for other types.
func fakeDNS(t *testing.T, zone map[string]net.IP) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := buf[:n]
			if n < 12 {
				continue
			}
			// Question: labels up to the zero byte, then type and class.
			i, labels := 12, []string{}
			for i < n && q[i] != 0 {
				l := int(q[i])
				labels = append(labels, string(q[i+1:i+1+l]))
				i += 1 + l
			}
			end := i + 5
			if end > n {
				continue
			}
			qtype := binary.BigEndian.Uint16(q[i+1:])
			name := strings.ToLower(strings.Join(labels, "."))
			resp := append([]byte{}, q[:end]...)
			binary.BigEndian.PutUint16(resp[6:], 0) // ancount
			binary.BigEndian.PutUint16(resp[8:], 0)
			binary.BigEndian.PutUint16(resp[10:], 0)
			ip, ok := zone[name]
			switch {
			case !ok:
				binary.BigEndian.PutUint16(resp[2:], 0x8183) // NXDOMAIN
			case qtype == 1:
				binary.BigEndian.PutUint16(resp[2:], 0x8180)
				binary.BigEndian.PutUint16(resp[6:], 1)
				resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
				resp = append(resp, ip.To4()...)
			default:
				binary.BigEndian.PutUint16(resp[2:], 0x8180)
			}
			pc.WriteTo(resp, from)
		}
	}()
	return pc.LocalAddr().String()
}

func TestProbe(t *testing.T) {
	f := newProxyFixture(t)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello"))
	}))
	defer web.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	dns := fakeDNS(t, map[string]net.IP{"allowed.example.test": net.IPv4(127, 0, 0, 9)})

	targets := []probewire.Target{
		{Name: "open", Kind: probewire.TCP, Addr: strings.TrimPrefix(web.URL, "http://")},
		{Name: "closed", Kind: probewire.TCP, Addr: closedAddr},
		{Name: "direct", Kind: probewire.HTTP, URL: web.URL + "/x"},
		{Name: "via proxy refused", Kind: probewire.HTTP, URL: "http://evil.example.test/", Proxy: f.proxy.URL},
		{Name: "via proxy allowed", Kind: probewire.HTTP, URL: "http://plain.example.test/y", Proxy: f.proxy.URL},
		{Name: "connect refused", Kind: probewire.Connect, Proxy: f.proxyAddr(), Target: "evil.example.test:443"},
		{Name: "connect allowed", Kind: probewire.Connect, Proxy: f.proxyAddr(), Target: "a.files.example.test:443"},
		{Name: "dns known", Kind: probewire.DNS, Host: "allowed.example.test", Server: dns},
		{Name: "dns unknown", Kind: probewire.DNS, Host: "exfil.example.test", Server: dns},
		{Name: "bad kind", Kind: "icmp"},
	}
	got := NewProber(5*time.Second, nil).Run(context.Background(), targets)
	type want struct {
		reached bool
		status  int
		body    string // prefix
		addrs   string
		err     string // substring
	}
	wants := map[string]want{
		"open":              {reached: true},
		"closed":            {err: "refused"},
		"direct":            {reached: true, status: 200, body: "hello"},
		"via proxy refused": {reached: true, status: 403, body: "blocked: host evil.example.test"},
		"via proxy allowed": {reached: true, status: 200, body: "upstream GET /y"},
		"connect refused":   {reached: true, status: 403, body: "blocked: host evil.example.test"},
		"connect allowed":   {reached: true, status: 200},
		"dns known":         {reached: true, addrs: "127.0.0.9"},
		"dns unknown":       {err: "no such host"},
		"bad kind":          {err: `unknown probe kind "icmp"`},
	}
	if len(got) != len(targets) {
		t.Fatalf("%d results for %d targets", len(got), len(targets))
	}
	for i, r := range got {
		w := wants[targets[i].Name]
		if r.Name != targets[i].Name {
			t.Errorf("result %d is %q, want %q (order)", i, r.Name, targets[i].Name)
		}
		if r.Reached != w.reached || r.Status != w.status || !strings.HasPrefix(r.Body, w.body) ||
			strings.Join(r.Addrs, ",") != w.addrs || !strings.Contains(r.Error, w.err) || (w.err == "" && r.Error != "") {
			t.Errorf("%s: got %+v\nwant %+v", r.Name, r, w)
		}
	}
}
