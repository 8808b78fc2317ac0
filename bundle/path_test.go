package bundle

import (
	"strings"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	tests := map[string]struct {
		in, want string
		err      string // substring of the error; "" means accepted
	}{
		"root":                   {"/", "/", ""},
		"plain":                  {"/a/b", "/a/b", ""},
		"trailing slash":         {"/a/b/", "/a/b/", ""},
		"dot":                    {"/a/./b", "/a/b", ""},
		"trailing dot":           {"/a/b/.", "/a/b/", ""},
		"dot dot":                {"/a/b/../c", "/a/c", ""},
		"trailing dot dot":       {"/a/b/..", "/a/", ""},
		"dot dot to root":        {"/a/..", "/", ""},
		"dot dot semicolon":      {"/a/b/..;/c", "/a/c", ""},
		"dot semicolon":          {"/a/.;x=1/b", "/a/b", ""},
		"parameter":              {"/a;x=1/b;y", "/a/b", ""},
		"parameter only":         {"/a/;x/b", "/a/b", ""},
		"empty segments":         {"//a//b", "/a/b", ""},
		"encoded dots":           {"/a/b/%2e%2E/c", "/a/c", ""},
		"encoded letter":         {"/%61", "/a", ""},
		"encoded space":          {"/a%20b", "/a b", ""},
		"utf-8":                  {"/%C3%A9t%C3%A9", "/été", ""},
		"climb":                  {"/..", "", "climbs above the root"},
		"climb later":            {"/a/../../b", "", "climbs above the root"},
		"climb with parameter":   {"/..;x/a", "", "climbs above the root"},
		"relative":               {"a/b", "", "not absolute"},
		"empty":                  {"", "", "not absolute"},
		"encoded slash":          {"/a%2Fb", "", "encoded slash"},
		"encoded slash lower":    {"/a%2fb", "", "encoded slash"},
		"encoded backslash":      {"/a%5cb", "", "encoded slash or backslash"},
		"backslash":              {"/a\\b", "", "backslash"},
		"double encoded":         {"/%252e%252e/x", "", "decoded again"},
		"encoded percent":        {"/100%25", "", "decoded again"},
		"encoded semicolon":      {"/a%3Bb", "", "decoded again"},
		"invalid escape":         {"/a%zz", "", "invalid percent escape"},
		"short escape":           {"/a%2", "", "invalid percent escape"},
		"escape at end":          {"/a%", "", "invalid percent escape"},
		"nul":                    {"/a%00", "", "control character"},
		"newline":                {"/a%0d%0aX: y", "", "control character"},
		"del":                    {"/a%7f", "", "control character"},
		"overlong dot":           {"/%c0%ae%c0%ae/x", "", "not UTF-8"},
		"escape hidden by param": {"/a;%zz/b", "/a/b", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := normalizePath(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("normalizePath(%q) = %q, %v; want error %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("normalizePath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}
