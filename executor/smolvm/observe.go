package smolvm

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
)

// Machine is one machine as `machine ls --json` reports it.
type Machine struct {
	Name  string
	State string
	// Network is nil when the output has no networking field.
	Network *bool
	Labels  map[string]string
	// Launched is set by Observe and Apply for a running machine of the
	// project: whether its launch marker is there (see LaunchedMarker).
	Launched bool
}

// Running reports whether the machine is running in spelling sp.
func (m Machine) running(sp Spelling) bool { return m.State == sp.StateRunning }

// Owned reports whether the machine carries project's agent labels.
func (m Machine) Owned(project string) bool {
	return project != "" && m.Labels[LabelProject] == project && m.Labels[LabelRole] == RoleAgent
}

// parseList decodes `machine ls --json` output with the keys of sp.
func parseList(sp Spelling, out []byte) ([]Machine, error) {
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("decode `smolvm machine ls %s` output: %w", sp.JSON, err)
	}
	ms := make([]Machine, 0, len(raw))
	for i, obj := range raw {
		var m Machine
		if err := decodeField(obj, "name", &m.Name); err != nil || m.Name == "" {
			return nil, fmt.Errorf("decode `smolvm machine ls %s` output: machine %d has no name", sp.JSON, i)
		}
		if err := decodeField(obj, sp.LsState, &m.State); err != nil {
			return nil, fmt.Errorf("decode machine %q: %w", m.Name, err)
		}
		if v, ok := obj[sp.LsNetwork]; ok && string(v) != "null" {
			var b bool
			if err := json.Unmarshal(v, &b); err != nil {
				return nil, fmt.Errorf("decode machine %q field %q: %w", m.Name, sp.LsNetwork, err)
			}
			m.Network = &b
		}
		if err := decodeField(obj, sp.LsLabels, &m.Labels); err != nil {
			return nil, fmt.Errorf("decode machine %q: %w", m.Name, err)
		}
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	return ms, nil
}

// decodeField decodes obj[key] into dst; a missing or null key leaves
// dst as it is.
func decodeField(obj map[string]json.RawMessage, key string, dst any) error {
	v, ok := obj[key]
	if !ok || string(v) == "null" {
		return nil
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("field %q: %w", key, err)
	}
	return nil
}

// List runs `machine ls --json` and returns every machine, sorted by name.
func (b *Backend) List(ctx context.Context) ([]Machine, error) {
	out, err := b.r.run(ctx, lsCmd(b.sp))
	if err != nil {
		return nil, err
	}
	return parseList(b.sp, out)
}

// Observed is an agent machine of the project, mapped to its instance.
type Observed struct {
	// Instance is the plan slug from the machine's labels.
	Instance   string
	ConfigHash string
	PlanDigest string
	// CAFingerprint is the LabelCAFingerprint label ("" when unset).
	CAFingerprint string
	Machine       Machine
}

// Observe lists the project's agent machines, keyed by instance slug.
// Machines without the project's labels are left out: bottleplan never
// touches them.
//
// A running machine is probed for its launch marker: one `machine exec`
// each, read-only.
func (b *Backend) Observe(ctx context.Context, project string) (map[string]Observed, error) {
	ms, err := b.List(ctx)
	if err != nil {
		return nil, err
	}
	for i := range ms {
		if ms[i].Owned(project) && ms[i].running(b.sp) {
			ms[i].Launched = b.launched(ctx, ms[i].Name)
		}
	}
	return observe(ms, project), nil
}

// launched reports whether the agent of machine name was launched: its
// marker exists. Any failure (guest unresponsive included) counts as no.
func (b *Backend) launched(ctx context.Context, name string) bool {
	_, err := b.r.run(ctx, markerProbeCmd(b.sp, name))
	return err == nil
}

func observe(ms []Machine, project string) map[string]Observed {
	out := map[string]Observed{}
	for _, m := range ms {
		if !m.Owned(project) {
			continue
		}
		slug := m.Labels[LabelInstance]
		out[slug] = Observed{
			Instance:      slug,
			ConfigHash:    m.Labels[LabelConfigHash],
			PlanDigest:    m.Labels[LabelPlanDigest],
			CAFingerprint: m.Labels[LabelCAFingerprint],
			Machine:       m,
		}
	}
	return out
}

// find returns the machine named name, if listed.
func find(ms []Machine, name string) (Machine, bool) {
	for _, m := range ms {
		if m.Name == name {
			return m, true
		}
	}
	return Machine{}, false
}
