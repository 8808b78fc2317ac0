package smolvm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Backend runs one detected smolvm. Open it once per apply. Its methods
// are safe for concurrent use on different machines; packs of one digest
// are serialized, so concurrent instances sharing an image pack it once.
type Backend struct {
	r       *Runner
	version Version
	sp      Spelling

	mu      sync.Mutex
	packing map[string]*sync.Mutex // by image digest
}

// packLock returns the mutex serializing packs of digest.
func (b *Backend) packLock(digest string) *sync.Mutex {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.packing == nil {
		b.packing = map[string]*sync.Mutex{}
	}
	if b.packing[digest] == nil {
		b.packing[digest] = &sync.Mutex{}
	}
	return b.packing[digest]
}

// Open detects the smolvm version and refuses an unsupported one.
func Open(ctx context.Context, r *Runner) (*Backend, error) {
	if r.CacheDir == "" {
		return nil, errors.New("smolvm runner has no cache directory")
	}
	v, sp, err := r.Detect(ctx)
	if err != nil {
		return nil, err
	}
	return &Backend{r: r, version: v, sp: sp}, nil
}

// Version is the detected smolvm version.
func (b *Backend) Version() Version { return b.version }

// imageDir is where exported agent image archives are kept.
func (b *Backend) imageDir() string { return filepath.Join(b.r.CacheDir, "images") }

// packed reports whether the artifact of digest is already cached.
func (b *Backend) packed(digest string) bool {
	_, err := os.Stat(sidecarPath(b.sp, b.r.CacheDir, digest))
	return err == nil
}

// Pack returns what `machine create` makes the agent machine from: the
// cached .smolmachine of img, packed on first use, or, where the version
// cannot pack a machine (Spelling.PackFromVM), the image archive itself.
//
// Packing goes through a packer machine created from the archive
// (`pack create --image` takes only a registry reference). smolvm writes
// into a staging directory; only a complete artifact is renamed into the
// cache, so an interrupted pack leaves no usable file, and the packer
// machine is deleted whatever happens (a packer left by a killed run is
// deleted before the next pack of its digest).
func (b *Backend) Pack(ctx context.Context, img AgentImage) (string, error) {
	if img.Digest == "" {
		return "", errors.New("pack agent image: no image digest to cache it by")
	}
	if b.sp.PackFromVM == "" {
		return img.Ref, nil
	}
	lock := b.packLock(img.Digest)
	lock.Lock()
	defer lock.Unlock()
	dst := sidecarPath(b.sp, b.r.CacheDir, img.Digest)
	if b.packed(img.Digest) {
		return dst, nil
	}
	out := packStaging(b.r.CacheDir, img.Digest)
	stage := filepath.Dir(out)
	if err := os.RemoveAll(stage); err != nil {
		return "", fmt.Errorf("pack agent image: %w", err)
	}
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return "", fmt.Errorf("pack agent image: %w", err)
	}
	defer os.RemoveAll(stage)
	if err := b.removePacker(ctx, img.Digest); err != nil {
		return "", fmt.Errorf("pack agent image %s: %w", img.Ref, err)
	}
	cmds := packCmds(b.sp, b.r.CacheDir, img)
	for i, c := range cmds {
		if _, err := b.r.run(ctx, c); err != nil {
			err = fmt.Errorf("pack agent image %s: %w", img.Ref, err)
			if i > 0 {
				if rmErr := b.removePacker(context.WithoutCancel(ctx), img.Digest); rmErr != nil {
					err = errors.Join(err, fmt.Errorf("remove packer machine: %w", rmErr))
				}
			}
			return "", err
		}
	}
	if err := os.Rename(out+b.sp.SidecarSuffix, dst); err != nil {
		return "", fmt.Errorf("pack agent image %s: smolvm wrote no %s artifact: %w", img.Ref, b.sp.SidecarSuffix, err)
	}
	return dst, nil
}

// removePacker deletes the packer machine of digest if there is one. A
// machine of that name without the packer label is not touched.
func (b *Backend) removePacker(ctx context.Context, digest string) error {
	ms, err := b.List(ctx)
	if err != nil {
		return err
	}
	m, ok := find(ms, packerName(digest))
	if !ok {
		return nil
	}
	if m.Labels[LabelRole] != RolePack {
		return fmt.Errorf("a machine named %q exists without bottleplan's packer label: delete or rename it", m.Name)
	}
	if m.running(b.sp) {
		if _, err := b.r.run(ctx, stopCmd(b.sp, m.Name)); err != nil {
			return err
		}
	}
	_, err = b.r.run(ctx, deleteCmd(b.sp, m.Name))
	return err
}

// Create creates the machine from source, what Pack returned.
func (b *Backend) Create(ctx context.Context, s Spec, source string) error {
	if _, err := b.r.run(ctx, createCmd(b.sp, s, source)); err != nil {
		return fmt.Errorf("create machine %q: %w", s.Name, err)
	}
	return nil
}

// Start boots the machine.
func (b *Backend) Start(ctx context.Context, s Spec) error {
	if _, err := b.r.run(ctx, startCmd(b.sp, s.Name)); err != nil {
		return fmt.Errorf("start machine %q: %w", s.Name, err)
	}
	return nil
}

// WaitReady polls `machine exec -- true` until it succeeds, backing off
// from ReadyFirstDelay to ReadyMaxDelay, and gives up after the runner's
// ReadyTimeout.
func (b *Backend) WaitReady(ctx context.Context, s Spec) error {
	clock := b.r.clock()
	timeout := b.r.ReadyTimeout
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	deadline := clock.Now().Add(timeout)
	delay := ReadyFirstDelay
	var last error
	for attempt := 1; ; attempt++ {
		_, err := b.r.run(ctx, readyCmd(b.sp, s.Name))
		if err == nil {
			return nil
		}
		var ee *ExitError
		if !errors.As(err, &ee) {
			return fmt.Errorf("wait for machine %q: %w", s.Name, err)
		}
		last = err
		now := clock.Now()
		if !now.Add(delay).Before(deadline) {
			return fmt.Errorf("machine %q not ready after %s (%d probes); last probe: %w", s.Name, timeout, attempt, last)
		}
		if err := clock.Sleep(ctx, delay); err != nil {
			return fmt.Errorf("wait for machine %q: %w", s.Name, err)
		}
		delay = min(2*delay, ReadyMaxDelay)
	}
}

// Verify reads the machine back and refuses unless it runs with
// networking on and the labels it was created with. `machine ls --json`
// has no allow-list field (src/cli/vm_common.rs machine_status_json): the
// allow list is checked by behaviour, by CheckEgress.
func (b *Backend) Verify(ctx context.Context, s Spec) error {
	ms, err := b.List(ctx)
	if err != nil {
		return fmt.Errorf("verify machine %q: %w", s.Name, err)
	}
	m, ok := find(ms, s.Name)
	if !ok {
		return fmt.Errorf("verify machine %q: smolvm does not list it after start", s.Name)
	}
	return verifyMachine(b.sp, s, m)
}

// verifyMachine is Verify's check on one listed machine.
func verifyMachine(sp Spelling, s Spec, m Machine) error {
	if !m.running(sp) {
		return fmt.Errorf("machine %q is %q after start, want %q", s.Name, m.State, sp.StateRunning)
	}
	if m.Network == nil {
		return fmt.Errorf("machine %q: `smolvm machine ls %s` reports no %q field, so networking cannot be verified; refusing to run the agent (docs/smolvm.md)", s.Name, sp.JSON, sp.LsNetwork)
	}
	if !*m.Network {
		return fmt.Errorf("machine %q has networking off although it was created with %s (smolvm's networking pitfall); the agent could not reach its bundle: refusing. Check the smolvm version (docs/smolvm.md)", s.Name, sp.Net)
	}
	for k, v := range s.Labels() {
		if m.Labels[k] != v {
			return fmt.Errorf("machine %q has label %s=%q, want %q", s.Name, k, m.Labels[k], v)
		}
	}
	return nil
}

// WriteFiles puts the spec's files into the guest: one `machine cp` per
// file (which makes the parent directories), staged under the cache
// directory and removed afterwards.
func (b *Backend) WriteFiles(ctx context.Context, s Spec) error {
	if len(s.Files) == 0 {
		return nil
	}
	stage := filepath.Dir(fileStaging(b.r.CacheDir, s.Name, 0))
	if err := os.MkdirAll(stage, 0o700); err != nil {
		return fmt.Errorf("write files into machine %q: %w", s.Name, err)
	}
	defer os.RemoveAll(stage)
	for i, f := range s.Files {
		src := fileStaging(b.r.CacheDir, s.Name, i)
		if err := os.WriteFile(src, f.Content, 0o600); err != nil {
			return fmt.Errorf("write files into machine %q: %w", s.Name, err)
		}
		if _, err := b.r.run(ctx, cpCmd(b.sp, s.Name, src, f.Path, f.Mode)); err != nil {
			return fmt.Errorf("write %s into machine %q: %w", f.Path, s.Name, err)
		}
	}
	return nil
}

// Launch starts the agent command in the running machine. values maps
// each secret's guest NAME to its value; values reach smolvm through its
// process environment only.
func (b *Backend) Launch(ctx context.Context, s Spec, values map[string]string) error {
	if err := checkSecrets(b.sp, s); err != nil {
		return err
	}
	if _, err := b.r.runWith(ctx, launchCmd(b.sp, s), values); err != nil {
		return fmt.Errorf("launch agent in machine %q: %w", s.Name, err)
	}
	return nil
}

// MarkLaunched writes the launch marker into the guest (an empty file,
// through the same `machine cp` as the guest files).
func (b *Backend) MarkLaunched(ctx context.Context, s Spec) error {
	src := markerStaging(b.r.CacheDir, s.Name)
	if err := os.MkdirAll(filepath.Dir(src), 0o700); err != nil {
		return fmt.Errorf("mark machine %q launched: %w", s.Name, err)
	}
	defer os.RemoveAll(filepath.Dir(src))
	if err := os.WriteFile(src, nil, 0o600); err != nil {
		return fmt.Errorf("mark machine %q launched: %w", s.Name, err)
	}
	if _, err := b.r.run(ctx, cpCmd(b.sp, s.Name, src, LaunchedMarker, 0o444)); err != nil {
		return fmt.Errorf("mark machine %q launched: %w", s.Name, err)
	}
	return nil
}

// Destroy stops and deletes the project's machine name. A machine that
// does not exist is already destroyed; one without the project's labels
// is refused, never touched.
func (b *Backend) Destroy(ctx context.Context, project, name string) error {
	ms, err := b.List(ctx)
	if err != nil {
		return fmt.Errorf("destroy machine %q: %w", name, err)
	}
	m, ok := find(ms, name)
	if !ok {
		return nil
	}
	return b.destroy(ctx, project, m)
}

func (b *Backend) destroy(ctx context.Context, project string, m Machine) error {
	if !m.Owned(project) {
		return fmt.Errorf("machine %q does not carry project %q's labels: bottleplan leaves it alone; delete it with `smolvm machine delete --name %s` if it is yours", m.Name, project, m.Name)
	}
	if m.running(b.sp) {
		if _, err := b.r.run(ctx, stopCmd(b.sp, m.Name)); err != nil {
			return fmt.Errorf("stop machine %q: %w", m.Name, err)
		}
	}
	if _, err := b.r.run(ctx, deleteCmd(b.sp, m.Name)); err != nil {
		return fmt.Errorf("delete machine %q: %w", m.Name, err)
	}
	return nil
}
