package smolvm

import (
	"sort"
	"strings"
)

// SecretPrefix prefixes the private variables that carry secret values
// into the smolvm process: guest variable G travels as SecretPrefix+G and
// reaches the guest through `--secret-env G=SecretPrefix+G`.
const SecretPrefix = "BOTTLEPLAN_SECRET_"

// Secret is one guest variable whose value must never appear on argv.
type Secret struct {
	// Guest is the guest variable NAME.
	Guest string
	// HostName is the host variable NAME the value is copied from
	// (env_from_host); "" for a prompted value.
	HostName string
	// Prompted is true for an env_prompted value.
	Prompted bool
}

// Placeholder is how the value is shown in dry runs and logs:
// "<from $NAME>" or "<prompted>".
func (s Secret) Placeholder() string {
	if s.Prompted {
		return "<prompted>"
	}
	return "<from $" + s.HostName + ">"
}

// envName is the private variable that carries the value to smolvm.
func (s Secret) envName() string { return SecretPrefix + s.Guest }

// Command is one smolvm invocation: its argv after the program name and
// the secrets its process environment carries.
type Command struct {
	Args []string
	// Secrets are set in the process environment as SecretPrefix+Guest.
	Secrets []Secret
}

// Render is the command as a shell line, secret values shown as
// placeholders: `BOTTLEPLAN_SECRET_K=<from $H> smolvm machine exec ...`.
// It is what `apply --dry-run` prints and what errors quote.
func (c Command) Render() string {
	var b strings.Builder
	secrets := append([]Secret(nil), c.Secrets...)
	sort.Slice(secrets, func(i, j int) bool { return secrets[i].Guest < secrets[j].Guest })
	for _, s := range secrets {
		b.WriteString(s.envName())
		b.WriteString("=")
		b.WriteString(s.Placeholder())
		b.WriteString(" ")
	}
	b.WriteString("smolvm")
	for _, a := range c.Args {
		b.WriteString(" ")
		b.WriteString(quote(a))
	}
	return b.String()
}

// quote renders one argument so the line can be pasted into a POSIX shell.
func quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
