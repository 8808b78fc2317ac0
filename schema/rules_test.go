package schema

import "testing"

// TestIPLiteral: every host form a resolver or URL parser reads as an
// address is an IP literal; numeric labels before the last are not.
func TestIPLiteral(t *testing.T) {
	for name, want := range map[string]bool{
		"127.0.0.1":        true,
		"::1":              true,
		"[::1]":            true,
		"127.1":            true,
		"2130706433":       true,
		"0x7f000001":       true,
		"0X7F000001":       true,
		"0177.0.0.1":       true,
		"1.2.3":            true,
		"127.0.0.1.":       true,
		"a.0x1f":           true,
		"0x":               true,
		"example.com":      false,
		"example.com.":     false,
		"1.example.com":    false,
		"0x7f.example.com": false,
		"a.0xg":            false,
		"123abc":           false,
		".":                false,
		"":                 false,
	} {
		if got := ipLiteral(name); got != want {
			t.Errorf("ipLiteral(%q) = %v, want %v", name, got, want)
		}
	}
}
