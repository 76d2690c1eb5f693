package aca

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/tandemfs/tandem/region"
)

// MaxBodyBytes caps an ACA body. The real body is about 40 bytes; anything
// near the cap is an error page or a misrouted response, and the cap keeps a
// broken endpoint from making the client buffer without bound.
const MaxBodyBytes = 64 << 10

// ParseState parses an ACA body such as {"active": "eu", "secondary": "us"}.
//
// It is strict about what decides where writes go and tolerant of the rest:
//   - the body must be one JSON object, at most [MaxBodyBytes], with nothing
//     after it (so an HTML error page or a truncated body is refused);
//   - "active" must be a non-empty string that [region.ParseID] accepts;
//   - "secondary" is optional (absent, null or "" mean none), but when given
//     it must be a valid ID that differs from "active", ignoring case;
//   - "epoch" is optional (absent or null mean 0) and must be a non-negative
//     integer;
//   - the keys are matched exactly and may appear once each, because a body
//     with two "active" keys has no single meaning;
//   - any other field is ignored.
//
// Region IDs come back lower-cased. Every error wraps [ErrInvalidState].
func ParseState(body []byte) (State, error) {
	if len(body) > MaxBodyBytes {
		return State{}, fmt.Errorf("%w: %w: %d bytes, at most %d", ErrInvalidState, ErrBodyTooLarge, len(body), MaxBodyBytes)
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return State{}, fmt.Errorf("%w: empty body", ErrInvalidState)
	}
	if trimmed[0] != '{' {
		// Say what it looks like: the usual culprit is a load balancer's
		// HTML error page, and "invalid character '<'" hides that.
		return State{}, fmt.Errorf("%w: not a JSON object (starts with %s)", ErrInvalidState, quotePrefix(trimmed))
	}

	var (
		active, secondary, epoch json.RawMessage
		seen                     = map[string]bool{}
	)
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // the '{' checked above
		return State{}, fmt.Errorf("%w: %w", ErrInvalidState, err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return State{}, fmt.Errorf("%w: %w", ErrInvalidState, err)
		}
		key, ok := tok.(string)
		if !ok {
			return State{}, fmt.Errorf("%w: object key is %T", ErrInvalidState, tok)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return State{}, fmt.Errorf("%w: field %q: %w", ErrInvalidState, key, err)
		}
		switch key {
		case "active", "secondary", "epoch":
			if seen[key] {
				return State{}, fmt.Errorf("%w: field %q appears twice", ErrInvalidState, key)
			}
			seen[key] = true
		}
		switch key {
		case "active":
			active = raw
		case "secondary":
			secondary = raw
		case "epoch":
			epoch = raw
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return State{}, fmt.Errorf("%w: %w", ErrInvalidState, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return State{}, fmt.Errorf("%w: data after the JSON object", ErrInvalidState)
	}

	var s State
	a, err := stringField("active", active)
	if err != nil {
		return State{}, err
	}
	if a == "" {
		return State{}, fmt.Errorf("%w: \"active\" is missing or empty", ErrInvalidState)
	}
	if s.Active, err = region.ParseID(a); err != nil {
		return State{}, fmt.Errorf("%w: \"active\": %w", ErrInvalidState, err)
	}
	sec, err := stringField("secondary", secondary)
	if err != nil {
		return State{}, err
	}
	if sec != "" {
		if s.Secondary, err = region.ParseID(sec); err != nil {
			return State{}, fmt.Errorf("%w: \"secondary\": %w", ErrInvalidState, err)
		}
		if s.Secondary.Equal(s.Active) {
			return State{}, fmt.Errorf("%w: active and secondary are both %q", ErrInvalidState, s.Active)
		}
	}
	if len(epoch) > 0 && string(epoch) != "null" {
		// Decode into a json.Number first: unmarshalling 1.5 or -1 straight
		// into a uint64 gives an error that does not name the field.
		// json.Number also accepts a quoted number; an epoch must be a
		// JSON number.
		var n json.Number
		if err := json.Unmarshal(epoch, &n); err != nil || epoch[0] == '"' {
			return State{}, fmt.Errorf("%w: \"epoch\" is not a number", ErrInvalidState)
		}
		if s.Epoch, err = strconv.ParseUint(n.String(), 10, 64); err != nil {
			return State{}, fmt.Errorf("%w: \"epoch\" %s is not a non-negative integer", ErrInvalidState, n)
		}
	}
	return s, nil
}

// stringField decodes a JSON string or null; absent and null give "".
func stringField(name string, raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", fmt.Errorf("%w: %q is not a string", ErrInvalidState, name)
	}
	return v, nil
}

// quotePrefix quotes the first bytes of b for an error message. The body of
// an ACA endpoint holds no secrets, but a short prefix is all a reader needs.
func quotePrefix(b []byte) string {
	const n = 16
	if len(b) > n {
		return strconv.Quote(string(b[:n])) + "..."
	}
	return strconv.Quote(string(b))
}

// encodeState writes the wire form: "secondary" is left out when unknown and
// "epoch" when 0, so a plain state reads exactly like the Hopsworks judge's.
func encodeState(s State) []byte {
	type wire struct {
		Active    region.ID `json:"active"`
		Secondary region.ID `json:"secondary,omitempty"`
		Epoch     uint64    `json:"epoch,omitempty"`
	}
	b, err := json.Marshal(wire(s))
	if err != nil {
		// Two strings and an integer always marshal.
		panic("aca: encoding a state: " + err.Error())
	}
	return append(b, '\n')
}
