package online

import (
	"encoding/json"
	"math/big"
	"strconv"
	"strings"
)

// Decimal is an exact DECIMAL value, in the server's own decimal text
// ("-12.340000"): the Store returns DECIMAL columns as Decimal rather than
// float64, which would round a DECIMAL(38,18) to about 16 digits.
//
// It is a string, not a *big.Rat, on purpose: the driver receives the
// value as that text, so no conversion is paid per row; the scale the
// column declares (trailing zeros) is kept; and a Decimal is comparable
// with ==, so it can be a map key (a batch result's key, for example).
// Convert it with [Decimal.Rat] for arithmetic or [Decimal.Float64] where
// a float is enough. The zero value "" is not a number.
type Decimal string

// String returns the decimal text.
func (d Decimal) String() string { return string(d) }

// Float64 returns the float64 nearest to d, and false if d is not a
// number.
func (d Decimal) Float64() (float64, bool) {
	f, err := strconv.ParseFloat(string(d), 64)
	return f, err == nil
}

// Rat returns d exactly, or nil if d is not a number.
func (d Decimal) Rat() *big.Rat {
	r, ok := new(big.Rat).SetString(string(d))
	if !ok {
		return nil
	}
	return r
}

// MarshalJSON writes d as a JSON number, digit for digit (JSON numbers
// have no precision limit; a decoder may still round them).
func (d Decimal) MarshalJSON() ([]byte, error) {
	if !isNumber(string(d)) {
		return nil, &strconv.NumError{Func: "Decimal.MarshalJSON", Num: string(d), Err: strconv.ErrSyntax}
	}
	return []byte(d), nil
}

// UnmarshalJSON reads a JSON number (or a string holding one) exactly.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if !isNumber(s) {
		return &strconv.NumError{Func: "Decimal.UnmarshalJSON", Num: s, Err: strconv.ErrSyntax}
	}
	*d = Decimal(s)
	return nil
}

// isNumber reports whether s is a JSON number (a valid JSON value that
// starts like a number is one) with an exponent of at most maxExp, so
// that its exact value stays small.
func isNumber(s string) bool {
	if s == "" || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) || !json.Valid([]byte(s)) {
		return false
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || e > maxExp || e < -maxExp {
			return false
		}
	}
	return true
}

// maxExp bounds a Decimal's exponent: DECIMAL has at most 65 digits.
const maxExp = 1000
