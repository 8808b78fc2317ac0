package bundle

import (
	"encoding/base64"
	"strings"
)

// basicDefaultUser is the user name paired with a token that has no
// "user:" part. GitHub and GitLab accept any user name with a token as the
// password; "x-access-token" is the one GitHub documents.
const basicDefaultUser = "x-access-token"

// authorization builds the Authorization header value the bundle sends
// upstream for scheme and the secret value (never logged).
//
//   - "Bearer" and "token": "<scheme> <value>".
//   - "Basic": when the value contains a colon it is taken as
//     "user:password"; otherwise it is the password and the user is
//     basicDefaultUser. The pair is base64-encoded as RFC 7617 says, so
//     the env var holds the plain credential, never a pre-encoded one.
//
// Any other scheme is sent as "<scheme> <value>".
func authorization(scheme, value string) string {
	if strings.EqualFold(scheme, "Basic") {
		pair := value
		if !strings.Contains(value, ":") {
			pair = basicDefaultUser + ":" + value
		}
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(pair))
	}
	return scheme + " " + value
}
