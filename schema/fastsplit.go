package schema

import (
	"bytes"
	"regexp"
)

// The fast path's splitter cuts a YAML manifest into pieces that parse on
// their own: the settings (every top-level line but the bottles and
// agents maps) and chunks of whole bottles or agents. It only recognizes
// the plain block layout people and generators write:
//
//	version: 1
//	bottles:
//	  dev:
//	    ...
//	agents:
//	  a1: {bottle: dev}
//
// and gives up (ok false) on anything else: tabs or carriage returns,
// document markers and directives, a top-level line that is not
// `key:`, a bottles or agents map written in flow style or on its header
// line, a line less indented than the entries of its map, an entry key
// that is not a plain name. Giving up is always safe: the caller then
// takes the full path. A cut in the wrong place cannot pass unnoticed
// either: it leaves an unterminated quote or bracket (a parse error), or
// an alias without its anchor (refused), and the full path then reports
// what is wrong.

// splitDoc is a YAML manifest cut for the fast path.
type splitDoc struct {
	// settings is the file without the bottles and agents maps.
	settings []byte
	// chunks of bottles and agents, each a block mapping of whole
	// entries, indented as in the file.
	chunks map[string][][]byte
}

var (
	topKeyRe   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*:`)
	entryKeyRe = regexp.MustCompile(`^[a-z][a-z0-9-]*:( |$)`)
)

// splitManifest cuts data into the settings and chunks of about
// chunkSize entries each. Chunks share data's storage.
func splitManifest(data []byte, chunkSize int) (splitDoc, bool) {
	if bytes.ContainsAny(data, "\t\r") {
		return splitDoc{}, false
	}
	doc := splitDoc{chunks: map[string][][]byte{}}
	var settings bytes.Buffer
	seen := map[string]bool{}
	region := "" // "bottles" or "agents" while inside that map
	indent := -1 // the indentation of the region's entries
	start := -1  // the offset of the chunk being filled
	entries := 0 // entries in it
	cut := func(end int) {
		if entries > 0 {
			doc.chunks[region] = append(doc.chunks[region], data[start:end])
		}
		start, entries = -1, 0
	}
	// endRegion closes the region at offset end; false for an empty map.
	endRegion := func(end int) bool {
		if entries == 0 && len(doc.chunks[region]) == 0 {
			return false // let the full path word it
		}
		cut(end)
		region, indent = "", -1
		return true
	}
	for off := 0; off < len(data); {
		lineStart := off
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			off = len(data)
		} else {
			off += i + 1
		}
		line := data[lineStart:off]
		body := bytes.TrimRight(line, " \n")
		trimmed := bytes.TrimLeft(body, " ")
		if len(trimmed) == 0 || trimmed[0] == '#' {
			// Blank and comment lines stay with what they follow.
			if region == "" || entries == 0 {
				settings.Write(line)
			}
			continue
		}
		ind := len(body) - len(trimmed)
		if ind == 0 {
			if region != "" && !endRegion(lineStart) {
				return splitDoc{}, false
			}
			key := topKeyRe.Find(body)
			if key == nil {
				return splitDoc{}, false
			}
			name := string(key[:len(key)-1])
			if seen[name] {
				return splitDoc{}, false
			}
			seen[name] = true
			if name == "bottles" || name == "agents" {
				if rest := bytes.TrimSpace(body[len(key):]); len(rest) > 0 && rest[0] != '#' {
					return splitDoc{}, false
				}
				region = name
				continue
			}
			settings.Write(line)
			continue
		}
		if region == "" {
			settings.Write(line)
			continue
		}
		if indent < 0 {
			indent = ind
		}
		switch {
		case ind < indent:
			return splitDoc{}, false
		case ind == indent:
			if !entryKeyRe.Match(trimmed) {
				return splitDoc{}, false
			}
			if entries >= chunkSize {
				cut(lineStart)
			}
			if start < 0 {
				start = lineStart
			}
			entries++
		case entries == 0:
			return splitDoc{}, false
		}
	}
	if region != "" && !endRegion(len(data)) {
		return splitDoc{}, false
	}
	if !seen["bottles"] || !seen["agents"] {
		return splitDoc{}, false
	}
	doc.settings = settings.Bytes()
	return doc, true
}
