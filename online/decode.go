package online

import (
	"database/sql"
	"math"
	"strconv"
	"strings"
)

// Rows are the decoded rows of one statement. Each value is one of int64,
// float64, string, []byte, time.Time or nil (SQL NULL); an unsigned
// BIGINT above math.MaxInt64 stays a uint64.
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

func planFor(rows *sql.Rows) (*decodePlan, error) {
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	p := &decodePlan{cols: make([]string, len(cts)), kinds: make([]colKind, len(cts))}
	for i, ct := range cts {
		p.cols[i] = ct.Name()
		p.kinds[i] = kindOf(strings.ToUpper(ct.DatabaseTypeName()))
	}
	return p, nil
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

func decodeAll(rows *sql.Rows, st *Stmt) (*Rows, error) {
	p := st.plan.Load()
	if p == nil {
		var err error
		if p, err = planFor(rows); err != nil {
			return nil, err
		}
		st.plan.Store(p)
	}
	n := len(p.cols)
	out := &Rows{Columns: p.cols}
	ptrs := make([]any, n)
	for rows.Next() {
		row := make([]any, n)
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range row {
			row[i] = convert(v, p.kinds[i])
		}
		out.Values = append(out.Values, row)
	}
	return out, rows.Err()
}

func convert(v any, k colKind) any {
	switch x := v.(type) {
	case []byte:
		switch k {
		case kindString:
			return string(x)
		case kindDecimal:
			if f, err := strconv.ParseFloat(string(x), 64); err == nil {
				return f
			}
			return string(x)
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
