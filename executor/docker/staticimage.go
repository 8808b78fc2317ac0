package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// StaticImage is a FROM scratch image around one static binary.
type StaticImage struct {
	// Repo is the image name; the tag is derived from the content.
	Repo string
	// Binary is the host path of the static executable.
	Binary string
	// Dest is its absolute path in the image, and the entrypoint.
	Dest string
	// Cmd are the default arguments.
	Cmd []string
	// OnBuild, when set, is called with the tag before a build starts
	// (not when the image exists).
	OnBuild func(ref string)
	// Kind is the image's LabelImage value (ImageKindBundle, or "test"
	// for the tests' images).
	Kind string
	// Progress, when set, receives the build's output.
	Progress io.Writer
}

// Build returns Repo:<first 16 hex digits of the sha256 of the content>,
// building the image through the Engine when that tag is missing. The
// image holds the binary, an empty /etc/bottleplan and a world-writable
// /tmp, nothing else: the tag changes with the binary (and with Dest and
// Cmd, which are constants of the caller) and with nothing on the host.
// The context is an in-memory tar; nothing is pulled.
func (s StaticImage) Build(ctx context.Context, eng Engine) (string, error) {
	data, err := os.ReadFile(s.Binary)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", s.Binary, err)
	}
	ref, writeTar, err := s.context(data)
	if err != nil {
		return "", err
	}
	if _, err := eng.ImageInspect(ctx, ref); err == nil {
		return ref, nil
	} else if !isNotFound(err) {
		return "", fmt.Errorf("inspect image %s: %w", ref, err)
	}
	var buf bytes.Buffer
	buf.Grow(len(data) + 64<<10)
	if err := writeTar(&buf); err != nil {
		return "", err
	}
	if s.OnBuild != nil {
		s.OnBuild(ref)
	}
	if err := buildImage(ctx, eng, buildRequest{context: &buf, ref: ref, dockerfile: "Dockerfile", kind: s.Kind, progress: s.Progress}); err != nil {
		return "", err
	}
	return ref, nil
}

// Ref is the reference Build tags the image with, without building.
func (s StaticImage) Ref() (string, error) {
	data, err := os.ReadFile(s.Binary)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", s.Binary, err)
	}
	ref, _, err := s.context(data)
	return ref, err
}

// context returns the image's reference and the writer of its build
// context, around the binary's content data.
func (s StaticImage) context(data []byte) (string, func(io.Writer) error, error) {
	type entry struct {
		name string
		mode int64
		typ  byte
		data []byte
	}
	cmdJSON, _ := json.Marshal(s.Cmd)
	dockerfile := fmt.Sprintf("FROM scratch\nCOPY rootfs/ /\nENTRYPOINT [%q]\nCMD %s\n", s.Dest, cmdJSON)
	entries := []entry{
		{"Dockerfile", 0o644, tar.TypeReg, []byte(dockerfile)},
		{"rootfs/", 0o755, tar.TypeDir, nil},
		{"rootfs/etc/", 0o755, tar.TypeDir, nil},
		{"rootfs/etc/bottleplan/", 0o755, tar.TypeDir, nil},
		{"rootfs/tmp/", 0o1777, tar.TypeDir, nil},
		{"rootfs/" + strings.TrimPrefix(s.Dest, "/"), 0o755, tar.TypeReg, data},
	}
	// The context is deterministic (no mtimes, sorted), so its hash names
	// the image exactly. It is hashed as it is written, and only held in
	// memory when the image must be built: the binary is tens of MB, and
	// copying it through a growing buffer on every apply cost more than
	// the hash.
	writeTar := func(w io.Writer) error {
		tw := tar.NewWriter(w)
		for _, e := range entries {
			if err := tw.WriteHeader(&tar.Header{Typeflag: e.typ, Name: e.name, Mode: e.mode, Size: int64(len(e.data))}); err != nil {
				return err
			}
			if _, err := tw.Write(e.data); err != nil {
				return err
			}
		}
		return tw.Close()
	}
	h := sha256.New()
	if err := writeTar(h); err != nil {
		return "", nil, err
	}
	ref := s.Repo + ":" + hex.EncodeToString(h.Sum(nil))[:16]
	return ref, writeTar, nil
}
