package main

import (
	"encoding/json"
	"io"
)

// jsonFormatVersion is the format_version of the JSON documents status
// and diff print with --json. Like the plan file's, it changes only when
// a field changes meaning or goes away; new fields may appear without it.
const jsonFormatVersion = 1

// writeJSON prints v as indented JSON (two spaces, as the plan file),
// without HTML escaping, ending in a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
