package dockertest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/plan"
)

// A local upstream for bundles to reach: the bundle's production dialer
// refuses private addresses (bundle.PublicDialer), and Docker numbers
// egress networks from private ranges, so a test container there could
// never be an allowed upstream. PublicEgress instead pre-creates the
// project's egress network, labelled as apply would, in a /28 of
// 203.0.113.0/24 (TEST-NET-3, RFC 5737), a local bridge of this Engine,
// so its traffic never leaves the machine. It differs from apply's in
// one option: traffic between its containers is on, since the upstream
// stands on it beside the bundles (apply's own network, with that
// traffic off, is what TestEgressIsolation proves). The production dialer
// refuses every documentation range; the tests' bundle binary is built
// with -tags bottleplan_testnet (BundleBinary), which lets it dial this
// one block and nothing else (bundle/dial_testnet.go).
// Everything the tests reach there is one of the project's own: the
// upstream container, the bundles' egress addresses, the networks'
// gateway (verify's probes, which get no answer). An address of
// 203.0.113.0/24 outside the /28 made here would follow the host's
// default route out, so nothing may dial one. Apply
// adopts the network (same name, labels and config hash), the bundles
// join it, and StartUpstream puts the upstream on it under DNS
// aliases that Docker's embedded DNS answers for the bundles.

// UpstreamCerts are a test CA and a server certificate it signed.
type UpstreamCerts struct {
	CAPEM, CertPEM, KeyPEM []byte
}

// NewUpstreamCerts returns a fresh CA and a certificate for hosts.
func NewUpstreamCerts(t testing.TB, hosts ...string) UpstreamCerts {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bottleplan test upstream CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: hosts[0]}, DNSNames: hosts,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return UpstreamCerts{
		CAPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
}

// UpstreamImage returns a FROM scratch image of testdata/upstream.
func UpstreamImage(t testing.TB, eng docker.Engine) string { return upstreamImage.get(t, eng) }

// PublicEgress creates the egress network of p's project in a /28 of
// 203.0.113.0/24 (room for 12 bundles beside the upstream), labelled as
// apply labels it, so apply adopts it. It retries other /28s when one is
// taken (by a parallel test run).
func PublicEgress(t testing.TB, eng *client.Client, p *plan.Plan) {
	t.Helper()
	var b [1]byte
	rand.Read(b[:])
	next := int(b[0]) % 16
	name := plan.EgressNetworkName(p.Project)
	var err error
	for try := 0; try < 16; try++ {
		subnet := fmt.Sprintf("203.0.113.%d/28", 16*(next%16))
		next++
		_, err = eng.NetworkCreate(context.Background(), name, network.CreateOptions{
			Driver: "bridge",
			Labels: executor.EgressLabels(p.Project, name, p.PlanDigest),
			IPAM:   &network.IPAM{Driver: "default", Config: []network.IPAMConfig{{Subnet: subnet}}},
		})
		if err == nil || !strings.Contains(err.Error(), "overlap") {
			break
		}
	}
	if err != nil {
		t.Fatalf("create egress network %s: %v", name, err)
	}
}

// RoleTestUpstream labels the test upstream container.
const RoleTestUpstream = "test-upstream"

// StartUpstream runs the upstream image on the egress network of p's
// project, answering to aliases (the route hosts), with certs. It
// carries the project label, so Project's cleanup removes it.
func StartUpstream(t testing.TB, eng *client.Client, p *plan.Plan, certs UpstreamCerts, aliases ...string) {
	t.Helper()
	ctx := context.Background()
	img := UpstreamImage(t, eng)
	resp, err := eng.ContainerCreate(ctx, &container.Config{
		Image:  img,
		Env:    []string{"UPSTREAM_CERT=" + string(certs.CertPEM), "UPSTREAM_KEY=" + string(certs.KeyPEM)},
		Labels: map[string]string{executor.LabelProject: p.Project, executor.LabelRole: RoleTestUpstream},
	}, &container.HostConfig{}, &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		plan.EgressNetworkName(p.Project): {Aliases: aliases},
	}}, nil, p.Project+"-upstream")
	if err != nil {
		t.Fatalf("create upstream: %v", err)
	}
	if err := eng.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
		t.Fatalf("start upstream: %v", err)
	}
}
