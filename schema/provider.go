package schema

import "strings"

// The variable in which the agent CLI looks for its credential. The
// agent never holds the real token: apply sets this variable to a
// placeholder and the proxy swaps the host secret named by auth_token
// into the API requests. So the variable must be the one the CLI reads,
// whatever the host secret is called:
//
//   - codex reads OPENAI_API_KEY;
//   - claude reads CLAUDE_CODE_OAUTH_TOKEN (an OAuth token, sent as
//     "Authorization: Bearer", the header the proxy injects) or
//     ANTHROPIC_API_KEY (an API key). The manifest declares which kind
//     by the name of the host secret: an auth_token whose name ends in
//     API_KEY is an API key, anything else an OAuth token.
const (
	ClaudeOAuthEnv  = "CLAUDE_CODE_OAUTH_TOKEN"
	ClaudeAPIKeyEnv = "ANTHROPIC_API_KEY"
	CodexAPIKeyEnv  = "OPENAI_API_KEY"
)

// TokenEnv is the variable the agent CLI of ap's template reads its
// credential from (see above); "" when ap has no auth_token.
func (ap AgentProvider) TokenEnv() string {
	switch {
	case ap.AuthToken == "":
		return ""
	case ap.Template == "codex":
		return CodexAPIKeyEnv
	case strings.HasSuffix(ap.AuthToken, "API_KEY"):
		return ClaudeAPIKeyEnv
	}
	return ClaudeOAuthEnv
}
