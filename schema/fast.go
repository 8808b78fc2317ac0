package schema

import (
	"runtime"
	"sync"
	"sync/atomic"

	"go.yaml.in/yaml/v3"
)

// The fast path: a manifest of one YAML file that is valid never needs
// the CUE evaluator. Load first tries to decode it without CUE: the file
// is cut into the settings and chunks of whole bottles and agents
// (fastsplit.go), the chunks are parsed on GOMAXPROCS workers with the
// YAML parser encoding/yaml uses, each entry is decoded straight from its
// YAML nodes into the raw types by decoders that accept only what the CUE
// schema accepts (fastdecode.go, fastentry.go), and the Go rules run on
// the result as on the full path. Each chunk's syntax tree is dropped as
// soon as it is decoded, so memory holds the file, one chunk per worker
// and the decoded manifest.
//
// At the first doubt (a layout the splitter does not know, a YAML
// feature the decoders do not take, any schema or rule error) the fast
// path gives up and Load starts over on the full path, which reports
// every error as it always has. The fast path therefore never words an
// error; it only has to be right about what is valid, and
// TestFastPathMatchesFull holds it to that on the validate corpus.
//
// Measured at 10000 bottles and agents (docs/performance.md): the full
// path spends 20 s and 750 MiB in the evaluator; this path is bounded by
// the YAML parser.

// fastChunk is how many entries one worker parses at a time: large enough
// that scheduling is noise, small enough that a chunk's syntax tree
// (about 25 KB per bottle) stays small.
const fastChunk = 64

// fastLoad loads the single YAML file data on the fast path; ok is false
// when the full path must run.
func (l *loader) fastLoad(data []byte) (*Manifest, bool) {
	doc, ok := splitManifest(data, fastChunk)
	if !ok {
		return nil, false
	}
	m := &Manifest{Bottles: map[string]*Bottle{}, Agents: map[string]*Agent{}}
	var root yaml.Node
	if yaml.Unmarshal(doc.settings, &root) != nil || root.Kind != yaml.DocumentNode || len(root.Content) != 1 {
		return nil, false
	}
	d := &fdec{ok: true}
	d.settings(root.Content[0], m)
	if !d.ok {
		return nil, false
	}
	l.checkDefaults(&m.Defaults)
	if len(l.errs) > 0 {
		return nil, false
	}

	bottles := map[string]*rawBottle{}
	agents := map[string]*rawAgent{}
	var mu sync.Mutex
	ok = l.fastChunks(doc.chunks["bottles"], func(w *loader, d *fdec, name string, n *yaml.Node) bool {
		rb := &rawBottle{}
		d.bottle(n, rb)
		rb.name = name
		if !d.ok || !w.checkBottle(rb) {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		if bottles[name] != nil {
			return false
		}
		bottles[name] = rb
		return true
	})
	if !ok {
		return nil, false
	}
	ok = l.fastChunks(doc.chunks["agents"], func(w *loader, d *fdec, name string, n *yaml.Node) bool {
		ra := &rawAgent{}
		d.agent(n, ra)
		if !d.ok {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		if agents[name] != nil {
			return false
		}
		agents[name] = ra
		return true
	})
	if !ok {
		return nil, false
	}
	names := make(map[string]bool, len(bottles))
	for name := range bottles {
		names[name] = true
	}
	l.checkSubnets(bottles)
	resolved := l.resolve(bottles, nil, names, m.Defaults)
	// A lint finding needs positions: the full path reports it.
	l.lint(bottles, nil, resolved)
	if len(l.errs) > 0 || len(l.warns) > 0 {
		return nil, false
	}
	for name, b := range resolved {
		m.Bottles[name] = b
	}
	for name, ra := range agents {
		if a := l.checkAgent(name, ra, names); a != nil {
			m.Agents[name] = a
		}
	}
	l.checkSharedPins(m)
	l.checkPoolRoom(m)
	if len(l.errs) > 0 {
		return nil, false
	}
	fastHits.Add(1)
	return m, true
}

// fastChunks parses chunks on several workers and calls fn for every
// entry with the worker's loader; it reports whether every chunk parsed
// and every fn returned true.
func (l *loader) fastChunks(chunks [][]byte, fn func(w *loader, d *fdec, name string, n *yaml.Node) bool) bool {
	workers := min(runtime.GOMAXPROCS(0), len(chunks))
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range workers {
		w := &loader{sc: l.sc, root: l.root, dirs: l.dirs, first: l.first, fast: true}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1)) - 1
				if i >= len(chunks) {
					return
				}
				if !w.fastChunk(chunks[i], fn) || len(w.errs) > 0 {
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	return !failed.Load()
}

// fastChunk parses one chunk and hands each entry to fn.
func (w *loader) fastChunk(chunk []byte, fn func(w *loader, d *fdec, name string, n *yaml.Node) bool) bool {
	var root yaml.Node
	if yaml.Unmarshal(chunk, &root) != nil || root.Kind != yaml.DocumentNode || len(root.Content) != 1 {
		return false
	}
	d := &fdec{ok: true}
	d.fields(root.Content[0], func(name string, v *yaml.Node) bool {
		return nameRe.MatchString(name) && fn(w, d, name, v)
	})
	return d.ok
}

// fastHits counts manifests loaded on the fast path (tests check that
// the path is taken).
var fastHits atomic.Int64
