package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
)

// DigestPrefix starts every digest in a plan.
const DigestPrefix = "sha256:"

// Encode returns the canonical encoding of p and sets p.PlanDigest.
//
// The canonical encoding is UTF-8 JSON with the object keys sorted
// bytewise at every level (struct fields are sorted by their JSON name,
// not by declaration order), 2-space indentation, a trailing newline and
// no HTML escaping ("<", ">" and "&" are written as themselves).
//
// Empty collections: a nil slice is written as [] and a nil map as {},
// exactly like an empty one, so a compiler that leaves a list nil and one
// that allocates it empty produce the same bytes. Fields tagged omitempty
// are left out when empty, nil or not. Nil pointers (git_gate, supervise,
// resources, auth) are written as null. Decode followed by Encode
// reproduces the input bytes.
//
// PlanDigest is "sha256:<hex>" of the canonical encoding of p with
// PlanDigest set to "". Encode refuses a plan whose FormatVersion is not
// FormatVersion or whose instances are not sorted by unique slug: both
// are invariants of the format, and a plan that breaks them could not be
// read back.
func Encode(p *Plan) ([]byte, error) {
	if p == nil {
		return nil, fmt.Errorf("encode plan: nil plan")
	}
	if err := checkInvariants(p); err != nil {
		return nil, fmt.Errorf("encode plan: %w", err)
	}
	c := *p
	c.PlanDigest = ""
	b, err := canonical(&c)
	if err != nil {
		return nil, fmt.Errorf("encode plan: %w", err)
	}
	p.PlanDigest = SHA256(b)
	// The encoding with the digest differs only in its value: write it
	// into the bytes just hashed instead of encoding the plan again (at
	// 10000 instances the plan file is 58 MB). Only top-level keys are
	// indented by exactly two spaces, and encoded strings hold no raw
	// newline, so the marker is found once, at plan_digest.
	marker := []byte("\n  \"plan_digest\": \"")
	if i := bytes.Index(b, marker); i >= 0 && bytes.HasPrefix(b[i+len(marker):], []byte(`"`)) {
		return slices.Insert(b, i+len(marker), []byte(p.PlanDigest)...), nil
	}
	if b, err = canonical(p); err != nil {
		return nil, fmt.Errorf("encode plan: %w", err)
	}
	return b, nil
}

// Digest returns the plan digest p would carry ("sha256:<hex>" of the
// canonical encoding with PlanDigest set to ""), without changing p.
func Digest(p *Plan) (string, error) {
	if p == nil {
		return "", fmt.Errorf("digest plan: nil plan")
	}
	d, err := digestOf(p)
	if err != nil {
		return "", fmt.Errorf("digest plan: %w", err)
	}
	return d, nil
}

// digestOf hashes the canonical encoding of a copy of p whose PlanDigest
// is "".
func digestOf(p *Plan) (string, error) {
	c := *p
	c.PlanDigest = ""
	b, err := canonical(&c)
	if err != nil {
		return "", err
	}
	return SHA256(b), nil
}

// CanonicalJSON encodes v in the canonical form Encode uses for a plan
// (sorted keys, 2-space indent, trailing newline, no HTML escaping, nil
// slices and maps as [] and {}). The compiler hashes parts of a plan with
// it: SHA256(CanonicalJSON(fields)) gives a config_hash that does not
// depend on struct field order or nil-versus-empty.
func CanonicalJSON(v any) ([]byte, error) {
	b, err := canonical(v)
	if err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	return b, nil
}

// CanonicalDigest is SHA256(CanonicalJSON(v)), computed without holding
// the whole encoding when it can be (the compiler digests the manifest
// and three hash inputs per instance).
func CanonicalDigest(v any) (string, error) {
	if d, ok := digestDirect(reflect.ValueOf(v)); ok {
		return d, nil
	}
	b, err := CanonicalJSON(v)
	if err != nil {
		return "", err
	}
	return SHA256(b), nil
}

// SHA256 returns "sha256:<lower-case hex>" of b, the form of every digest
// in a plan.
func SHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return DigestPrefix + hex.EncodeToString(sum[:])
}

// checkInvariants reports the format invariants Encode and Decode insist
// on.
func checkInvariants(p *Plan) error {
	if p.FormatVersion != FormatVersion {
		return fmt.Errorf("format_version is %d, this build writes only %d", p.FormatVersion, FormatVersion)
	}
	for i := 1; i < len(p.Instances); i++ {
		prev, cur := p.Instances[i-1].Slug, p.Instances[i].Slug
		if prev == cur {
			return fmt.Errorf("instance %q appears twice", cur)
		}
		if prev > cur {
			return fmt.Errorf("instances are not sorted by slug (%q before %q)", prev, cur)
		}
	}
	return nil
}

// canonical writes v as canonical JSON: directly (canonical.go) when it
// can, else as canonicalSlow does, which defines the bytes.
func canonical(v any) ([]byte, error) {
	if b, ok := encodeDirect(reflect.ValueOf(v)); ok {
		return b, nil
	}
	return canonicalSlow(v)
}

// canonicalSlow writes v as canonical JSON. encoding/json already sorts
// map keys; struct fields are brought in line by decoding the struct's
// encoding into generic maps and encoding those again. Numbers pass
// through as json.Number, so they are written exactly as first encoded.
func canonicalSlow(v any) ([]byte, error) {
	first, err := marshalNoEscape(withEmptyCollections(v), "")
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(first))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	return marshalNoEscape(tree, "  ")
}

// marshalNoEscape encodes v without HTML escaping, indented by indent
// when it is not empty, with a trailing newline.
func marshalNoEscape(v any, indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent != "" {
		enc.SetIndent("", indent)
	}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// withEmptyCollections returns a deep copy of v in which every nil slice
// and nil map reachable through struct fields, slice elements, map values
// and pointers is replaced by an empty one. The copy keeps the caller's
// value untouched.
func withEmptyCollections(v any) any {
	if v == nil {
		return nil
	}
	rv := reflect.ValueOf(v)
	return fillEmpty(rv).Interface()
}

func fillEmpty(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(fillEmpty(v.Elem()))
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		for i := 0; i < v.NumField(); i++ {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			out.Field(i).Set(fillEmpty(v.Field(i)))
		}
		return out
	case reflect.Slice:
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(fillEmpty(v.Index(i)))
		}
		return out
	case reflect.Map:
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		iter := v.MapRange()
		for iter.Next() {
			out.SetMapIndex(iter.Key(), fillEmpty(iter.Value()))
		}
		return out
	default:
		return v
	}
}
