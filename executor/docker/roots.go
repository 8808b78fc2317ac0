package docker

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
)

// BundleRootsFile is where each bundle container holds the host's public
// root certificates, so the proxy and git gate can verify upstreams (its
// FROM scratch image has none). Go's crypto/x509 looks here first on
// Linux. They are copied in at create, not baked into the image, so the
// image's tag depends on the bundle binary alone (see bundleImageSpec).
const BundleRootsFile = "/etc/ssl/certs/ca-certificates.crt"

// LabelRootsDigest is set on every bundle container made with host roots:
// "sha256:<hex>" of the BundleRootsFile copied into it. It tells which
// roots a running bundle verifies upstreams with (compare it with
// sha256sum of the host's file); it never forces a change by itself, so a
// ca-certificates update does not restart every bundle unasked (apply
// --replace rolls it out). Public certificates, no secret.
const LabelRootsDigest = "io.bottleplan.roots-digest"

// hostRootsFiles are where Linux distributions keep the system roots,
// in the order Go's crypto/x509 tries them.
var hostRootsFiles = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/pki/tls/cacert.pem",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/cert.pem",
}

// HostRootsFile returns the host's system root certificate bundle, or ""
// when there is none. These are public certificates, not secrets.
func HostRootsFile() string {
	for _, f := range hostRootsFiles {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			return f
		}
	}
	return ""
}

// withRoots adds roots (the host's, read once by Prepare) to a bundle
// container's files at BundleRootsFile, and their digest to its labels.
// Without roots it adds nothing: the bundle warns at start that it cannot
// verify upstreams, as apply did before creating it.
func (cs *containerSpec) withRoots(roots []byte) {
	if len(roots) == 0 {
		return
	}
	sum := sha256.Sum256(roots)
	cs.files = append(cs.files, file{BundleRootsFile, 0o444, roots})
	cs.config.Labels[LabelRootsDigest] = "sha256:" + hex.EncodeToString(sum[:])
}
