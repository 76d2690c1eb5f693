package region

import (
	"errors"
	"fmt"
	"strings"
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
	if len(t) > 64 {
		return "", fmt.Errorf("%w: %d bytes, at most 64", ErrInvalidID, len(t))
	}
	for _, r := range t {
		if r <= ' ' || r == 0x7f {
			return "", fmt.Errorf("%w: %q has a space or control character", ErrInvalidID, t)
		}
	}
	return ID(strings.ToLower(t)), nil
}

// Equal reports whether a and b name the same region, ignoring case.
func (a ID) Equal(b ID) bool { return strings.EqualFold(string(a), string(b)) }

// String returns the ID as given.
func (a ID) String() string { return string(a) }
