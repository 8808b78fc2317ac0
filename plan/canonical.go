package plan

import (
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"hash"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The direct canonical encoder writes the bytes canonicalSlow writes (the
// definition: encode, decode into generic maps, encode again sorted and
// indented) in one reflective walk, without the two intermediate
// encodings and the generic tree. At 10000 instances the two-pass form
// was four fifths of `bottleplan plan` (docs/performance.md).
//
// It takes the kinds plans and hash inputs are made of (structs,
// pointers, slices, string-keyed maps, strings, bools, integers) and
// gives up on anything else (non-nil interfaces, floats, byte
// slices, arrays, custom marshalers, embedded structs, non-string map
// keys, json tag options other than omitempty); canonical then falls back
// to canonicalSlow. Strings other than printable ASCII go through
// canonicalSlow too, so escaping needs no second implementation.
// TestCanonicalMatchesSlow holds both to the same bytes.

// direct is the state of one direct encoding: the bytes written, in
// segments so a large plan is not copied again and again as one slice
// grows (at 10000 instances the plan file is 58 MB).
type direct struct {
	segs [][]byte
	buf  []byte
	size int
	// h, when set, takes the bytes instead of segs (digestDirect).
	h hash.Hash
}

const segSize = 1 << 20

// bufPool holds first buffers, so encoding many small values (three
// config hashes per instance) does not allocate one each.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 4096)
	return &b
}}

// encodeDirect returns the canonical encoding of v with its trailing
// newline; ok is false when v holds something it does not take.
func encodeDirect(v reflect.Value) ([]byte, bool) {
	first := bufPool.Get().(*[]byte)
	defer func() {
		*first = (*first)[:0]
		bufPool.Put(first)
	}()
	e := &direct{buf: *first}
	ok := e.value(v, 0)
	if len(e.segs) == 0 {
		*first = e.buf // keep what it grew to
	} else {
		*first = e.segs[0]
	}
	if !ok {
		return nil, false
	}
	e.buf = append(e.buf, '\n')
	if len(e.segs) == 0 {
		// The hash inputs of the compiler are small and many: copy
		// them out of the pooled buffer at their size.
		return append(make([]byte, 0, len(e.buf)+128), e.buf...), true
	}
	// Room for Encode to write the plan digest in place.
	out := make([]byte, 0, e.size+len(e.buf)+128)
	for _, s := range e.segs {
		out = append(out, s...)
	}
	return append(out, e.buf...), true
}

// digestDirect returns SHA256 of the canonical encoding of v without
// holding the encoding: the bytes go to the hash a segment at a time.
func digestDirect(v reflect.Value) (string, bool) {
	first := bufPool.Get().(*[]byte)
	defer bufPool.Put(first)
	e := &direct{buf: (*first)[:0], h: sha256.New()}
	ok := e.value(v, 0)
	*first = e.buf[:0]
	if !ok {
		return "", false
	}
	e.h.Write(append(e.buf, '\n'))
	return DigestPrefix + hex.EncodeToString(e.h.Sum(nil)), true
}

// cut moves a full buffer to the segments, or to the hash.
func (e *direct) cut() {
	if e.h != nil && len(e.buf) >= segSize {
		e.h.Write(e.buf)
		e.buf = e.buf[:0]
		return
	}
	if len(e.buf) >= segSize {
		e.segs = append(e.segs, e.buf)
		e.size += len(e.buf)
		e.buf = make([]byte, 0, segSize+segSize/4)
	}
}

// value appends the canonical encoding of v (without the trailing
// newline); false when v holds something the direct encoder does not
// take.
func (e *direct) value(v reflect.Value, depth int) bool {
	var ok bool
	e.buf, ok = e.encode(e.buf, v, depth)
	return ok
}

// encode is value's body on the current buffer.
func (e *direct) encode(buf []byte, v reflect.Value, depth int) ([]byte, bool) {
	switch v.Kind() {
	case reflect.Invalid: // a nil interface: CanonicalDigest(nil), a null in a map[string]any
		return append(buf, "null"...), true
	case reflect.Bool:
		return strconv.AppendBool(buf, v.Bool()), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(buf, v.Int(), 10), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.AppendUint(buf, v.Uint(), 10), true
	case reflect.String:
		return appendString(buf, v.String())
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return append(buf, "null"...), true
		}
		// withEmptyCollections does not look inside interfaces, so nil
		// collections there stay null: leave them to canonicalSlow.
		if v.Kind() == reflect.Interface || custom(v.Type().Elem()) {
			return buf, false
		}
		return e.encode(buf, v.Elem(), depth)
	case reflect.Slice:
		if custom(v.Type()) || v.Type().Elem().Kind() == reflect.Uint8 {
			return buf, false
		}
		if v.Len() == 0 {
			return append(buf, "[]"...), true
		}
		buf = append(buf, '[')
		for i := range v.Len() {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = newline(buf, depth+1)
			var ok bool
			if buf, ok = e.encode(buf, v.Index(i), depth+1); !ok {
				return buf, false
			}
			e.buf = buf
			e.cut()
			buf = e.buf
		}
		buf = newline(buf, depth)
		return append(buf, ']'), true
	case reflect.Map:
		if custom(v.Type()) || v.Type().Key().Kind() != reflect.String {
			return buf, false
		}
		if v.Len() == 0 {
			return append(buf, "{}"...), true
		}
		keys := make([]string, 0, v.Len())
		vals := make(map[string]reflect.Value, v.Len())
		it := v.MapRange()
		for it.Next() {
			k := it.Key().String()
			keys = append(keys, k)
			vals[k] = it.Value()
		}
		slices.Sort(keys)
		for i, k := range keys {
			var ok bool
			if buf, ok = member(buf, i, k, depth); !ok {
				return buf, false
			}
			if buf, ok = e.encode(buf, vals[k], depth+1); !ok {
				return buf, false
			}
			e.buf = buf
			e.cut()
			buf = e.buf
		}
		buf = newline(buf, depth)
		return append(buf, '}'), true
	case reflect.Struct:
		fields, ok := structFields(v.Type())
		if !ok {
			return buf, false
		}
		n := 0
		for _, f := range fields {
			fv := v.Field(f.index)
			if f.omitEmpty && isEmpty(fv) {
				continue
			}
			if buf, ok = member(buf, n, f.name, depth); !ok {
				return buf, false
			}
			if buf, ok = e.encode(buf, fv, depth+1); !ok {
				return buf, false
			}
			e.buf = buf
			e.cut()
			buf = e.buf
			n++
		}
		if n == 0 {
			return append(buf, "{}"...), true
		}
		buf = newline(buf, depth)
		return append(buf, '}'), true
	}
	return buf, false
}

// member starts the i-th member of an object at depth: the brace or
// comma, the indentation and the key.
func member(buf []byte, i int, key string, depth int) ([]byte, bool) {
	if i == 0 {
		buf = append(buf, '{')
	} else {
		buf = append(buf, ',')
	}
	buf = newline(buf, depth+1)
	buf, ok := appendString(buf, key)
	return append(buf, ':', ' '), ok
}

func newline(buf []byte, depth int) []byte {
	buf = append(buf, '\n')
	for range depth {
		buf = append(buf, ' ', ' ')
	}
	return buf
}

// appendString writes s quoted; strings that need escaping take the
// two-pass path, so the bytes are encoding/json's by construction.
func appendString(buf []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b, err := canonicalSlow(s)
			if err != nil {
				return buf, false
			}
			return append(buf, b[:len(b)-1]...), true
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"'), true
}

// isEmpty is encoding/json's omitempty test.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// custom reports whether t encodes itself.
func custom(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t.Implements(marshalerType) || p.Implements(marshalerType) || t.Implements(textMarshalerType) || p.Implements(textMarshalerType)
}

// field is one encoded struct field.
type field struct {
	name      string
	index     int
	omitEmpty bool
}

type fieldsResult struct {
	fields []field
	ok     bool
}

var fieldCache sync.Map // reflect.Type -> fieldsResult

// structFields lists t's encoded fields sorted by JSON name; ok is false
// for a struct encoding/json would treat in a way the direct encoder
// does not copy.
func structFields(t reflect.Type) ([]field, bool) {
	if r, ok := fieldCache.Load(t); ok {
		return r.(fieldsResult).fields, r.(fieldsResult).ok
	}
	r := fieldsResult{ok: !custom(t)}
	seen := map[string]bool{}
	for i := 0; i < t.NumField() && r.ok; i++ {
		sf := t.Field(i)
		if sf.Anonymous {
			r.ok = false
			break
		}
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = sf.Name
		}
		f := field{name: name, index: i}
		switch opts {
		case "":
		case "omitempty":
			f.omitEmpty = true
		default:
			r.ok = false
		}
		if seen[name] || !plainKey(name) {
			r.ok = false
		}
		seen[name] = true
		r.fields = append(r.fields, f)
	}
	slices.SortFunc(r.fields, func(a, b field) int { return strings.Compare(a.name, b.name) })
	fieldCache.Store(t, r)
	return r.fields, r.ok
}

// plainKey reports whether encoding/json takes name as a tag name as is.
func plainKey(name string) bool {
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return name != ""
}
