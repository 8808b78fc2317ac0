package docker

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/bottleplan/bottleplan/plan"
)

// ExportAgentImage writes the agent image of in, as Prepare resolved it,
// to dir as a `docker save` archive named by the image ID, and returns
// the archive's path and the image ID ("sha256:<hex>"). An archive that
// already exists is reused; a partial one is never left under its final
// name. The smolmachines backend packs a smolvm machine from it.
func (b *Backend) ExportAgentImage(ctx context.Context, in *plan.Instance, dir string) (string, string, error) {
	b.mu.Lock()
	ref := b.agentImages[in.Slug]
	b.mu.Unlock()
	if ref == "" {
		return "", "", fmt.Errorf("agent image of instance %q not prepared", in.Slug)
	}
	insp, err := b.eng.ImageInspect(ctx, ref)
	if err != nil {
		return "", "", fmt.Errorf("inspect image %q: %w", ref, err)
	}
	id := insp.ID
	hex, ok := strings.CutPrefix(id, "sha256:")
	if !ok || hex == "" || strings.ContainsAny(hex, `/\.`) {
		return "", "", fmt.Errorf("image %q has an unexpected ID %q", ref, id)
	}
	dst := filepath.Join(dir, hex+".tar")
	if _, err := os.Stat(dst); err == nil {
		return dst, id, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("export image %q: %w", ref, err)
	}
	rc, err := b.eng.ImageSave(ctx, []string{ref})
	if err != nil {
		return "", "", fmt.Errorf("export image %q: %w", ref, err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(dir, ".save-*")
	if err != nil {
		return "", "", fmt.Errorf("export image %q: %w", ref, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, rc); err != nil {
		tmp.Close()
		return "", "", fmt.Errorf("export image %q: %w", ref, err)
	}
	if err := tmp.Close(); err != nil {
		return "", "", fmt.Errorf("export image %q: %w", ref, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", "", fmt.Errorf("export image %q: %w", ref, err)
	}
	b.log("Exported the agent image %s of instance %q for smolvm", ref, in.Slug)
	return dst, id, nil
}
