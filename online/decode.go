package online

import (
	"math"
	"strconv"
	"strings"
)

// Rows are the decoded rows of one statement. Each value is one of int64,
// float64, string, []byte, time.Time, [Decimal] (for DECIMAL columns) or
// nil (SQL NULL); an unsigned BIGINT above math.MaxInt64 stays a uint64.
type Rows struct {
	Columns []string
	Values  [][]any
}

type colKind uint8

const (
	kindAsIs     colKind = iota // ints, floats, times: the driver's type is right
	kindString                  // text types arrive as []byte
	kindDecimal                 // DECIMAL arrives as []byte
	kindUnsigned                // an unsigned BIGINT above MaxInt64 arrives as []byte
)

type decodePlan struct {
	cols  []string
	kinds []colKind
}

// kindOf maps a driver's upper-case database type name to a decoding.
func kindOf(t string) colKind {
	switch {
	case t == "DECIMAL" || t == "NEWDECIMAL":
		return kindDecimal
	case strings.HasPrefix(t, "UNSIGNED"):
		return kindUnsigned
	case strings.Contains(t, "CHAR") || strings.Contains(t, "TEXT") || t == "ENUM" || t == "SET" || t == "JSON" || t == "TIME":
		return kindString
	}
	return kindAsIs
}

func convert(v any, k colKind) any {
	switch x := v.(type) {
	case []byte:
		switch k {
		case kindString:
			return string(x)
		case kindDecimal:
			return Decimal(x)
		case kindUnsigned:
			if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
				return convert(u, kindAsIs)
			}
			return string(x)
		}
		return x
	case float32:
		return float64(x)
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
		return x
	case int32:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	}
	return v
}
