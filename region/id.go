package region

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ID names a region, such as "eu" or "us". IDs compare case-insensitively
// (the ACA and the hops watchdog compare with equalsIgnoreCase); [ParseID]
// lower-cases them so that == works on parsed IDs.
//
// The zero ID is "no region".
type ID string

// ErrInvalidID reports an empty or malformed region ID.
var ErrInvalidID = errors.New("region: invalid region id")

// ParseID trims and lower-cases s. It rejects empty IDs and IDs with
// whitespace or control characters.
func ParseID(s string) (ID, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidID)
	}
	if !utf8.ValidString(t) {
		return "", fmt.Errorf("%w: %q is not valid UTF-8", ErrInvalidID, t)
	}
	for _, r := range t {
		if r <= ' ' || r == 0x7f || unicode.IsSpace(r) || unicode.IsControl(r) {
			return "", fmt.Errorf("%w: %q has a space or control character", ErrInvalidID, t)
		}
	}
	// Lower-casing can change the length (some runes have longer lower
	// forms), so the cap applies to the result: a parsed ID parses again.
	l := strings.ToLower(t)
	if len(l) > 64 {
		return "", fmt.Errorf("%w: %d bytes, at most 64", ErrInvalidID, len(l))
	}
	return ID(l), nil
}

// Equal reports whether a and b name the same region, ignoring case.
func (a ID) Equal(b ID) bool { return strings.EqualFold(string(a), string(b)) }

// String returns the ID as given.
func (a ID) String() string { return string(a) }
