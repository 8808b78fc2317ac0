package plan

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIsReservedEnv(t *testing.T) {
	tests := map[string]bool{
		"HTTPS_PROXY":        true,
		"https_proxy":        true,
		"All_Proxy":          true,
		"NO_PROXY":           true,
		"SSL_CERT_FILE":      true,
		"REQUESTS_CA_BUNDLE": true,
		"GIT_CONFIG_COUNT":   true,
		"GIT_CONFIG_KEY_12":  true,
		"GIT_CONFIG_VALUE_0": true,
		"BOTTLEPLAN_X":       true,
		"GH_TOKEN":           false,
		"GIT_AUTHOR_NAME":    false,
		"PROXY":              false,
		"ssl_cert_file":      false,
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			if got := IsReservedEnv(name); got != want {
				t.Errorf("IsReservedEnv(%q) = %v, want %v", name, got, want)
			}
		})
	}
}

func TestDeclaredEnv(t *testing.T) {
	in := implementerInstance()
	in.GuestEnv["AAA"] = "x"
	want := []EnvVar{
		{Name: "AAA", Mode: EnvLiteral},
		{Name: "GH_TOKEN", Mode: EnvFromHost, Source: "HOST_GH_PAT"},
		{Name: "GIT_AUTHOR_NAME", Mode: EnvLiteral},
		{Name: "JIRA_TOKEN", Mode: EnvPrompted, Source: "Paste a Jira token"},
	}
	if d := cmp.Diff(want, DeclaredEnv(&in)); d != "" {
		t.Errorf("DeclaredEnv (-want +got):\n%s", d)
	}
	// 9 proxy and CA variables, GIT_CONFIG_COUNT and two rewrites of two
	// variables each.
	if got := ReservedEnvCount(&in); got != 14 {
		t.Errorf("ReservedEnvCount = %d, want 14", got)
	}
}
