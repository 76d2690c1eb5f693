//go:build !linux

package online

import "errors"

// peek is not implemented here: a due hedge is then always sent.
func peek(uintptr) (int, error) { return 0, errors.ErrUnsupported }
