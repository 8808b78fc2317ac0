package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bottleplan/bottleplan/executor"
)

// TestBundleImageTagIsTheBinaryOnly: the bundle image's tag changes with
// the bundle binary and with nothing on the host, so a new CLI or a
// ca-certificates update does not make a new bundle image (the roots go
// into the container instead, see TestBundleContainerCarriesRoots).
func TestBundleImageTagIsTheBinaryOnly(t *testing.T) {
	dir := t.TempDir()
	bin := staticBinaryForTest(t)
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other")
	writeFile(t, other, append(data, 0)) // still a static ELF, other bytes
	rootsA, rootsB := filepath.Join(dir, "a.pem"), filepath.Join(dir, "b.pem")
	writeFile(t, rootsA, []byte("roots A"))
	writeFile(t, rootsB, []byte("roots B"))

	tag := func(binary, roots string) string {
		t.Helper()
		b := New(&fake{images: map[string]bool{"agent:missing": true}}, Options{BundleBinary: binary, RootsFile: roots})
		p, ch := diffAll(t, testInstance())
		if err := b.Prepare(context.Background(), p, ch); err != nil {
			t.Fatal(err)
		}
		if b.bundleImage == "" {
			t.Fatal("Prepare chose no bundle image")
		}
		return b.bundleImage
	}
	type build struct{ binary, roots string }
	tests := map[string]struct {
		a, b build
		same bool
	}{
		"other host roots":         {build{bin, rootsA}, build{bin, rootsB}, true},
		"host roots or none":       {build{bin, rootsA}, build{bin, ""}, true},
		"another bundle binary":    {build{bin, rootsA}, build{other, rootsA}, false},
		"same binary, same roots":  {build{bin, rootsA}, build{bin, rootsA}, true},
		"another binary, no roots": {build{bin, ""}, build{other, ""}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, b := tag(tc.a.binary, tc.a.roots), tag(tc.b.binary, tc.b.roots)
			if (a == b) != tc.same {
				t.Errorf("tags %s and %s; same = %v, want %v", a, b, a == b, tc.same)
			}
		})
	}
}

// TestBundleContainerCarriesRoots: the host roots Prepare read go into
// the bundle container at BundleRootsFile, their digest into
// LabelRootsDigest; without roots there is neither.
func TestBundleContainerCarriesRoots(t *testing.T) {
	roots := []byte("-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n")
	sum := sha256.Sum256(roots)
	tests := map[string]struct {
		roots     []byte
		wantLabel string
	}{
		"host roots": {roots, "sha256:" + hex.EncodeToString(sum[:])},
		"none":       {nil, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := New(&fake{}, Options{})
			b.bundleImage, b.roots = "bottleplan-bundle:test", tc.roots
			in := testInstance()
			s, err := b.spec(executor.CreateRequest{Project: "p", Instance: in, Role: executor.RoleBundle, CA: &executor.CA{CertPEM: []byte("cert"), KeyPEM: []byte("key")}})
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			for _, f := range s.files {
				if f.path == BundleRootsFile {
					got = f.data
				}
			}
			if string(got) != string(tc.roots) {
				t.Errorf("%s in the bundle = %q, want %q", BundleRootsFile, got, tc.roots)
			}
			if l := s.config.Labels[LabelRootsDigest]; l != tc.wantLabel {
				t.Errorf("label %s = %q, want %q", LabelRootsDigest, l, tc.wantLabel)
			}
			if s.config.Entrypoint[0] != "/bottleplan-bundle" || len(s.config.Cmd) != 1 || s.config.Cmd[0] != "serve" {
				t.Errorf("bundle runs %v %v, want /bottleplan-bundle serve", s.config.Entrypoint, s.config.Cmd)
			}
		})
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestNoBundleBinary: Prepare names the missing binary with
// ErrNoBundleBinary, so the CLI can say where it looked, and only when it
// must build the bundle image.
func TestNoBundleBinary(t *testing.T) {
	p, ch := diffAll(t, testInstance())
	err := New(&fake{images: map[string]bool{"agent:missing": true}}, Options{}).Prepare(context.Background(), p, ch)
	if !errors.Is(err, ErrNoBundleBinary) {
		t.Errorf("Prepare of a bundle without a binary: error = %v, want ErrNoBundleBinary", err)
	}
	noBundle := &executor.Changes{Project: "p"}
	if err := New(&fake{}, Options{}).Prepare(context.Background(), p, noBundle); err != nil {
		t.Errorf("Prepare with no bundle to create needs no binary: error = %v", err)
	}
}
