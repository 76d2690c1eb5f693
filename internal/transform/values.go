package transform

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"unsafe"
)

// ErrType: an input value has a Go type the function cannot take (e.g. a
// string for min_max_scaler). hsfs's astype("float64") raises for these too.
var ErrType = errors.New("transform: input of the wrong type")

// number converts an online value to float64 the way pandas'
// astype("float64") does for the types the online store returns. null
// reports nil (NaN is a number here, as in numpy arithmetic).
func number(x any) (v float64, null bool, err error) {
	switch t := x.(type) {
	case nil:
		return math.NaN(), true, nil
	case float64:
		return t, false, nil
	case int64:
		return float64(t), false, nil
	case int:
		return float64(t), false, nil
	case int32:
		return float64(t), false, nil
	case uint64:
		return float64(t), false, nil
	case float32:
		return float64(t), false, nil
	case bool:
		if t {
			return 1, false, nil
		}
		return 0, false, nil
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return 0, false, fmt.Errorf("%w: %q is not a number", ErrType, t.String())
		}
		return f, false, nil
	}
	return 0, false, fmt.Errorf("%w: %T is not a number", ErrType, x)
}

// isNA is pd.isna for a scalar: nil or a float NaN.
func isNA(x any) bool {
	switch t := x.(type) {
	case nil:
		return true
	case float64:
		return math.IsNaN(t)
	case float32:
		return math.IsNaN(float64(t))
	}
	return false
}

// catKey normalises a category so that values equal in Python compare
// equal here (1 == 1.0 == True in a dict or set): numbers become float64,
// []byte becomes string.
func catKey(x any) any {
	switch t := x.(type) {
	case []byte:
		return string(t)
	case string, float64:
		return x // no new box
	case bool:
		if t {
			return float64(1)
		}
		return float64(0)
	case json.Number:
		if f, err := t.Float64(); err == nil {
			return f
		}
		return t.String()
	}
	if f, null, err := number(x); err == nil && !null {
		return f
	}
	if x != nil && !reflect.TypeOf(x).Comparable() {
		// A JSON list or object as a category: unhashable as a map key,
		// so keyed by its text (Python would raise on it).
		return uncomparable{fmt.Sprint(x)}
	}
	return x
}

type uncomparable struct{ s string }

// pyStr is Python's str() of a scalar (impute_mode stringifies).
func pyStr(x any) string {
	switch t := x.(type) {
	case string:
		return t
	case []byte:
		return string(t)
	case bool:
		if t {
			return "True"
		}
		return "False"
	case float64:
		return pyFloat(t)
	case float32:
		return pyFloat(float64(t))
	case json.Number:
		return t.String()
	case nil:
		return "None"
	}
	if f, _, err := number(x); err == nil {
		if i, ok := x.(int64); ok {
			return strconv.FormatInt(i, 10)
		}
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return fmt.Sprint(x)
}

// pyFloat is Python's repr of a float: shortest round trip, ".0" on
// integral values, exponent form below 1e-4 and from 1e16.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	a := math.Abs(f)
	if a != 0 && (a < 1e-4 || a >= 1e16) {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s
		}
	}
	return s + ".0"
}

// eface is the layout of an empty interface.
type eface struct {
	typ, data unsafe.Pointer
}

var (
	float64Type = typeOf(float64(1))
	int64Type   = typeOf(int64(1))
)

func typeOf(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

// boxer turns numbers into interface values that point into one slab, so
// that a run allocates one slab instead of one box per number. The slab is
// never written again once a word is handed out, so the values behave as
// ordinary immutable boxed numbers (reflect builds interfaces the same way).
type boxer struct {
	slab []uint64
}

func (b *boxer) next() unsafe.Pointer {
	if len(b.slab) == 0 {
		b.slab = make([]uint64, 8)
	}
	p := unsafe.Pointer(&b.slab[0])
	b.slab = b.slab[1:]
	return p
}

func (b *boxer) float(f float64) any {
	p := b.next()
	*(*float64)(p) = f
	var v any
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = float64Type, p
	return v
}

func (b *boxer) int(i int64) any {
	if i >= 0 && i < 256 {
		return i // the runtime boxes small integers without allocating
	}
	p := b.next()
	*(*int64)(p) = i
	var v any
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = int64Type, p
	return v
}
