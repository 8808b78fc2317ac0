package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// UnusableError is why Decode refused a plan file: it is not valid JSON,
// has an unknown format_version or unknown fields, is not in canonical
// form, or its plan_digest does not match its content. The command line
// maps it to exit code 3; the remedy is always to plan again.
type UnusableError struct {
	// Reason says what is wrong, in plain words, lower case.
	Reason string
	// Err is the underlying error, if any (a JSON syntax error).
	Err error
}

// Error says what is wrong and what to do about it.
func (e *UnusableError) Error() string {
	return "plan refused: " + e.Reason + "; re-run bottleplan plan to make a new plan"
}

// Unwrap returns the underlying error.
func (e *UnusableError) Unwrap() error { return e.Err }

// IsUnusable reports whether err is or wraps an *UnusableError.
func IsUnusable(err error) bool {
	var ue *UnusableError
	return errors.As(err, &ue)
}

func unusable(err error, format string, args ...any) *UnusableError {
	return &UnusableError{Reason: fmt.Sprintf(format, args...), Err: err}
}

// Decode reads a plan file written by Encode. Every refusal is an
// *UnusableError:
//
//   - the bytes are not one JSON object (trailing data included);
//   - format_version is missing or not FormatVersion (checked first, so a
//     plan from a newer bottleplan is reported as such rather than as a
//     list of unknown fields);
//   - a field is unknown or has the wrong type;
//   - instances are not sorted by unique slug;
//   - plan_digest does not match the content (the file was altered);
//   - the bytes are not exactly the canonical encoding (the file was
//     reformatted or touched in a way that leaves the content equal).
//
// The last rule also catches what encoding/json forgives (keys matched
// case-insensitively, duplicate keys) and makes a plan file an exact artifact: changing any single
// byte of it, whitespace included, gets it refused. On success,
// Encode(Decode(b)) returns b.
func Decode(b []byte) (*Plan, error) {
	var head struct {
		FormatVersion *json.RawMessage `json:"format_version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, unusable(err, "not a plan file: %v", err)
	}
	if head.FormatVersion == nil {
		return nil, unusable(nil, "not a plan file: format_version is missing")
	}
	if v := string(*head.FormatVersion); v != fmt.Sprint(FormatVersion) {
		return nil, unusable(nil, "format_version %s is not supported (this bottleplan reads only %d)", v, FormatVersion)
	}

	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return nil, unusable(err, "invalid plan file: %v", err)
	}
	if err := checkInvariants(&p); err != nil {
		return nil, unusable(err, "invalid plan file: %v", err)
	}

	want, err := Digest(&p)
	if err != nil {
		return nil, unusable(err, "invalid plan file: %v", err)
	}
	if p.PlanDigest != want {
		return nil, unusable(nil, "plan_digest does not match the content (the file was altered after planning)")
	}
	canon, err := canonical(&p)
	if err != nil {
		return nil, unusable(err, "invalid plan file: %v", err)
	}
	if !bytes.Equal(canon, b) {
		return nil, unusable(nil, "the file is not in canonical form (it was reformatted or edited after planning)")
	}
	return &p, nil
}
