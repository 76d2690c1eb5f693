package online

import (
	"fmt"
	"strings"
)

// stmtInfo is what Tandem needs to know about a statement's text.
type stmtInfo struct {
	params int // number of ? placeholders
	// inAt is the byte offset of the "?" in a batch form "... IN ?", or -1.
	inAt int
	// tupleWidth is the number of columns in the "( … ) IN ?" tuple (1 for
	// "col IN ?").
	tupleWidth int
}

// checkSelect validates that q is a single, read-only SELECT and counts its
// placeholders. It is a small lexer, not a parser: it skips quoted strings,
// quoted identifiers and comments, and refuses a second statement, locking
// reads and SELECT … INTO. It never panics on any input (see FuzzCheckSelect).
func checkSelect(q string) (stmtInfo, error) {
	info := stmtInfo{inAt: -1}
	if len(q) > 1<<20 {
		return info, fmt.Errorf("%w: statement of %d bytes is over 1 MiB", ErrInvalidStatement, len(q))
	}
	var words []string // upper-cased code words, in order
	var qpos []int     // offsets of '?'
	end := len(q)
	// A single trailing semicolon (plus white space) is allowed.
	t := strings.TrimRight(q, " \t\r\n")
	if strings.HasSuffix(t, ";") {
		end = len(t) - 1
	}
	i := 0
	for i < end {
		c := q[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for j < end {
				if q[j] == '\\' && c != '`' {
					j += 2
					continue
				}
				if q[j] == c {
					if j+1 < end && q[j+1] == c { // doubled quote
						j += 2
						continue
					}
					break
				}
				j++
			}
			if j >= end {
				return info, fmt.Errorf("%w: unterminated quote at byte %d", ErrInvalidStatement, i)
			}
			i = j + 1
		case c == '#' || (c == '-' && i+1 < end && q[i+1] == '-'):
			for i < end && q[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < end && q[i+1] == '*':
			if i+2 < end && q[i+2] == '!' {
				return info, fmt.Errorf("%w: executable comments (/*! … */) are not allowed", ErrInvalidStatement)
			}
			j := strings.Index(q[i+2:end], "*/")
			if j < 0 {
				return info, fmt.Errorf("%w: unterminated comment at byte %d", ErrInvalidStatement, i)
			}
			i += j + 4
		case c == ';':
			return info, fmt.Errorf("%w: more than one statement", ErrInvalidStatement)
		case c == '?':
			qpos = append(qpos, i)
			words = append(words, "?")
			i++
		case isWordByte(c):
			j := i
			for j < end && isWordByte(q[j]) {
				j++
			}
			words = append(words, strings.ToUpper(q[i:j]))
			i = j
		case c == '(' || c == ')' || c == ',':
			words = append(words, string(c))
			i++
		default:
			i++
		}
	}
	first := ""
	for _, w := range words {
		if w != "(" {
			first = w
			break
		}
	}
	if first != "SELECT" {
		return info, fmt.Errorf("%w: it starts with %q; only SELECT is hedged", ErrInvalidStatement, first)
	}
	for k, w := range words {
		switch w {
		case "INTO", "UPDATE", "DELETE", "INSERT", "REPLACE", "LOCK", "SHARE", "CALL", "HANDLER", "LOAD", "OUTFILE", "DUMPFILE":
			// "FOR UPDATE", "LOCK IN SHARE MODE" and "INTO" make a read
			// a write or a lock; none may be hedged.
			return info, fmt.Errorf("%w: %q is not allowed in a hedged read", ErrInvalidStatement, w)
		case "?":
			if k >= 1 && words[k-1] == "IN" {
				if info.inAt >= 0 {
					return info, fmt.Errorf("%w: more than one \"IN ?\" batch placeholder", ErrInvalidStatement)
				}
				info.inAt = qpos[countQ(words[:k])]
				info.tupleWidth = tupleWidth(words[:k-1])
			}
		}
	}
	info.params = len(qpos)
	return info, nil
}

func countQ(words []string) int {
	n := 0
	for _, w := range words {
		if w == "?" {
			n++
		}
	}
	return n
}

// tupleWidth counts the columns of the tuple that ends words ("( a , b )"
// gives 2); a bare column gives 1.
func tupleWidth(words []string) int {
	if len(words) == 0 || words[len(words)-1] != ")" {
		return 1
	}
	depth, commas := 0, 0
	for k := len(words) - 1; k >= 0; k-- {
		switch words[k] {
		case ")":
			depth++
		case "(":
			depth--
			if depth == 0 {
				return commas + 1
			}
		case ",":
			if depth == 1 {
				commas++
			}
		}
	}
	return 1
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

// expandIn rewrites the batch placeholder of q ("IN ?") for n keys of the
// info's tuple width: "IN ((?,?),(?,?))", or "IN (?,?,?)" for width 1.
// Values stay bound; nothing is concatenated but placeholders.
func expandIn(q string, info stmtInfo, n int) string {
	var b strings.Builder
	w := info.tupleWidth
	b.Grow(len(q) + n*(2*w+3))
	b.WriteString(q[:info.inAt])
	b.WriteByte('(')
	for k := 0; k < n; k++ {
		if k > 0 {
			b.WriteByte(',')
		}
		if w == 1 {
			b.WriteByte('?')
			continue
		}
		b.WriteByte('(')
		for c := 0; c < w; c++ {
			if c > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('?')
		}
		b.WriteByte(')')
	}
	b.WriteByte(')')
	b.WriteString(q[info.inAt+1:])
	return b.String()
}
