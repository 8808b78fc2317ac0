package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

// Image tags. All are content-addressed (recipe images too:
// plan.RecipeImageRepo, tagged with the recipe digest): a tag names exactly one input,
// so an image that exists is never rebuilt.
const (
	// BundleImageRepo is tagged with the first 16 hex digits of the
	// sha256 of its build context, which holds the bottleplan-bundle
	// binary and nothing from the host or the plan besides (see
	// bundleImageSpec): a new bottleplan CLI with the same bundle binary
	// keeps the tag, and the bundles keep their image.
	BundleImageRepo = "bottleplan-bundle"
	// AgentImageRepo is tagged with the first 16 hex digits of the sha256
	// of the Dockerfile's build context.
	AgentImageRepo = "bottleplan-agent"
)

// Prepare resolves each created container's runtime and image: the bundle
// image is built from the static binary when missing; agent images must
// exist or are built from their Dockerfile. It fails, naming what is
// missing, before Apply changes anything.
func (b *Backend) Prepare(ctx context.Context, p *plan.Plan, ch *executor.Changes) error {
	made := map[string]map[executor.Role]bool{}
	for _, op := range ch.Ops() {
		if op.Kind == executor.Create || op.Kind == executor.Replace {
			if made[op.Instance] == nil {
				made[op.Instance] = map[executor.Role]bool{}
			}
			made[op.Instance][op.Role] = true
		}
	}
	if b.opts.RootsFile != "" && b.roots == nil {
		roots, err := os.ReadFile(b.opts.RootsFile)
		if err != nil {
			return fmt.Errorf("read root certificates: %w", err)
		}
		b.mu.Lock()
		b.roots = roots
		b.mu.Unlock()
	}
	var info *struct{ runsc bool }
	var errs []error
	for i := range p.Instances {
		in := &p.Instances[i]
		m := made[in.Slug]
		if !m[executor.RoleBundle] && !m[executor.RoleAgent] {
			continue
		}
		if info == nil {
			inf, err := b.eng.Info(ctx)
			if err != nil {
				return fmt.Errorf("read Engine info: %w", err)
			}
			_, ok := inf.Runtimes["runsc"]
			info = &struct{ runsc bool }{ok}
		}
		runtime, err := pickRuntime(in.Runtime, info.runsc)
		if err != nil {
			errs = append(errs, fmt.Errorf("instance %q: %w", in.Slug, err))
			continue
		}
		b.mu.Lock()
		b.runtimes[in.Slug] = runtime
		b.mu.Unlock()
		if m[executor.RoleBundle] && b.bundleImage == "" {
			ref, err := b.ensureBundleImage(ctx)
			if err != nil {
				return err
			}
			b.mu.Lock()
			b.bundleImage = ref
			b.mu.Unlock()
		}
		if m[executor.RoleAgent] {
			ref, err := b.ensureAgentImage(ctx, in)
			if err != nil {
				errs = append(errs, fmt.Errorf("instance %q: %w", in.Slug, err))
				continue
			}
			b.mu.Lock()
			b.agentImages[in.Slug] = ref
			b.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

// pickRuntime maps the plan's runtime to the OCI runtime name the Engine
// gets ("" is the Engine's default, runc).
func pickRuntime(want string, haveRunsc bool) (string, error) {
	switch want {
	case "", "auto":
		if haveRunsc {
			return "runsc", nil
		}
		return "", nil
	case "runc":
		return "", nil
	case "runsc":
		if !haveRunsc {
			return "", fmt.Errorf("runtime runsc (gVisor) is not configured in this Docker Engine; install it or set runtime: auto")
		}
		return "runsc", nil
	}
	return "", fmt.Errorf("unknown runtime %q", want)
}

// CheckStatic fails unless path is a statically linked ELF executable
// (no PT_INTERP program header), the only kind that runs in a FROM
// scratch image.
func CheckStatic(path string) error {
	build := "CGO_ENABLED=0 go install ./cmd/... (bottleplan and bottleplan-bundle side by side), or CGO_ENABLED=0 go build -o " + path + " ./cmd/bottleplan-bundle"
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("bundle binary %s is not an ELF executable (%v); build one with: %s", path, err, build)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("bundle binary %s is dynamically linked and cannot run in the bundle's FROM scratch image; build a static one with: %s", path, build)
		}
	}
	return nil
}

// ErrNoBundleBinary is Prepare's error when it must build the bundle
// image and Options.BundleBinary is empty; the caller knows where the
// binary should have been and says so.
var ErrNoBundleBinary = errors.New("no bundle binary given")

// The bundle binary's subcommands (cmd/bottleplan-bundle): the bundle
// container runs bundleServeCmd, verify's probe container probeCmd and
// the targets.
var (
	bundleServeCmd = []string{"serve"}
	probeCmd       = "probe"
)

// bundleImageSpec is the bundle image: the static bottleplan-bundle binary at
// plan.BundleBinary in a FROM scratch image, running bundleServeCmd.
//
// It holds nothing else, so its tag is a digest of the binary alone. The
// host's root certificates, which the bundle needs to verify upstreams,
// used to be baked in, which gave every host and every update of the
// distribution's ca-certificates a bundle image of its own. They are now
// copied into each bundle container at create, like the instance CA
// (withRoots), and the container's LabelRootsDigest records which roots
// it holds. As before, a roots change does not replace a running bundle
// by itself (apply --replace rolls it out, like a new binary); the label
// makes the difference visible.
func (b *Backend) bundleImageSpec() StaticImage {
	s := BundleImage(b.opts.BundleBinary)
	s.Progress = b.opts.BuildProgress
	s.OnBuild = func(ref string) { b.log("Building the bundle image %s from %s", ref, b.opts.BundleBinary) }
	return s
}

// BundleImage is the bundle image around the static binary at path
// (see bundleImageSpec); its Ref is the tag apply gives it.
func BundleImage(binary string) StaticImage {
	return StaticImage{Repo: BundleImageRepo, Binary: binary, Dest: plan.BundleBinary, Cmd: bundleServeCmd, Kind: ImageKindBundle}
}

func (b *Backend) ensureBundleImage(ctx context.Context) (string, error) {
	if b.opts.BundleBinary == "" {
		return "", ErrNoBundleBinary
	}
	if err := CheckStatic(b.opts.BundleBinary); err != nil {
		return "", err
	}
	ref, err := b.bundleImageSpec().Build(ctx, b.eng)
	if err != nil {
		return "", fmt.Errorf("build bundle image: %w", err)
	}
	return ref, nil
}

// ensureAgentImage returns the image the agent of in runs: the template's
// recipe image, built when absent (recipe.go); agent.image, which must
// exist (nothing can be pulled); or the image built from
// agent.dockerfile, whose content must still match the plan's digest.
func (b *Backend) ensureAgentImage(ctx context.Context, in *plan.Instance) (string, error) {
	if in.Agent.Recipe != nil {
		return b.ensureRecipeImage(ctx, in)
	}
	if in.Agent.Image != "" {
		if _, err := b.eng.ImageInspect(ctx, in.Agent.Image); err != nil {
			if isNotFound(err) {
				return "", fmt.Errorf("agent image %q is not on this machine; build or load it first (apply does not pull)", in.Agent.Image)
			}
			return "", fmt.Errorf("inspect image %q: %w", in.Agent.Image, err)
		}
		return in.Agent.Image, nil
	}
	if in.Agent.Dockerfile == "" {
		return "", fmt.Errorf("the plan gives the agent neither an image nor a dockerfile")
	}
	path := filepath.Join(b.opts.ManifestRoot, filepath.FromSlash(in.Agent.Dockerfile))
	df, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read dockerfile: %w (pass -f with the manifest so relative paths resolve)", err)
	}
	sum := sha256.Sum256(df)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != in.Agent.DockerfileDigest {
		return "", fmt.Errorf("%w: dockerfile %s changed since the plan was made (digest %s, plan %s); run bottleplan plan again and review the new plan", executor.ErrStale, path, got, in.Agent.DockerfileDigest)
	}
	ctxTar, err := tarDir(filepath.Dir(path))
	if err != nil {
		return "", fmt.Errorf("dockerfile context: %w", err)
	}
	csum := sha256.Sum256(ctxTar.Bytes())
	ref := AgentImageRepo + ":" + hex.EncodeToString(csum[:])[:16]
	if _, err := b.eng.ImageInspect(ctx, ref); err == nil {
		return ref, nil
	}
	b.log("Building the agent image %s of instance %q from %s", ref, in.Slug, path)
	if err := b.build(ctx, buildRequest{context: ctxTar, ref: ref, dockerfile: filepath.Base(path), kind: ImageKindAgentDockerfile}); err != nil {
		return "", fmt.Errorf("build agent image from %s: %w", path, err)
	}
	return ref, nil
}

// tarDir returns a deterministic tar of the regular files under dir
// (sorted, zero mtimes, no owners). Symlinks and special files are left
// out.
func tarDir(dir string) (*bytes.Buffer, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(dir, p)
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: filepath.ToSlash(rel), Mode: int64(st.Mode().Perm()), Size: int64(len(data))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	return &buf, tw.Close()
}

// ResolveImages implements executor.ImageResolver: the ID each distinct
// agent.image reference of p's docker instances names now, one image
// inspect per reference, or "" when the Engine has no such image.
func (b *Backend) ResolveImages(ctx context.Context, p *plan.Plan) (map[string]string, error) {
	ids := map[string]string{}
	for _, in := range p.Instances {
		ref := in.Agent.Image
		if in.Backend != plan.BackendDocker || ref == "" {
			continue
		}
		if _, done := ids[ref]; done {
			continue
		}
		img, err := b.eng.ImageInspect(ctx, ref)
		switch {
		case isNotFound(err):
			ids[ref] = ""
		case err != nil:
			return nil, fmt.Errorf("inspect image %q: %w", ref, err)
		default:
			ids[ref] = img.ID
		}
	}
	return ids, nil
}
