package online

import (
	"fmt"
	"strings"
)

// The lexer of the statement checks (sqlcheck.go): it lexes as MySQL 8
// and MariaDB do, in every sql_mode, and fails on whatever they could lex
// differently.

type tokKind uint8

const (
	tWord   tokKind = iota + 1 // bare word: keyword or identifier
	tQuoted                    // `backquoted identifier`
	tString                    // 'string' (or "string" in the general check)
	tNumber                    // 12, 1.5, 1e-3, 0x1F, 0b101
	tParam                     // ?
	tPunct                     // one byte of punctuation
)

type token struct {
	kind tokKind
	pos  int    // byte offset in the statement
	text string // a word upper-cased, an identifier unescaped, the source otherwise
}

func (t token) is(kind tokKind, text string) bool { return t.kind == kind && t.text == text }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidStatement}, args...)...)
}

// lex splits q into tokens as MySQL and MariaDB would, and fails on
// anything they could lex differently (see the file comment). general
// admits "strings" and the operators of any SELECT; the allow-list needs
// neither.
func lex(q string, general bool) ([]token, error) {
	if len(q) > maxStatement {
		return nil, invalid("statement of %d bytes is over 1 MiB", len(q))
	}
	for i := 0; i < len(q); i++ {
		// Only printable ASCII and three white spaces: with a multi-byte
		// client character set (GBK, SJIS, BIG5) a byte >= 0x80 may take
		// the next quote or backslash into one character, so no lexer can
		// know where a string ends without knowing the connection's
		// character set. Hopsworks' names are [a-z0-9_].
		if c := q[i]; (c < ' ' && c != '\t' && c != '\n' && c != '\r') || c >= 0x7f {
			return nil, invalid("byte %#x at %d: only printable ASCII is accepted", c, i)
		}
	}
	var toks []token
	i := 0
	for i < len(q) {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#' || (c == '/' && i+1 < len(q) && q[i+1] == '*') || (c == '-' && i+1 < len(q) && q[i+1] == '-'):
			// "--" is a comment only before white space or a control
			// character, and /*! … */ and /*M! … */ are executed: refuse
			// them all rather than judge which.
			return nil, invalid("comments are not allowed (byte %d)", i)
		case c == ';':
			return nil, invalid("more than one statement (\";\" at byte %d)", i)
		case c == '@':
			return nil, invalid("variables (@) are not allowed (byte %d)", i)
		case c == ':':
			return nil, invalid("assignments (:=) are not allowed (byte %d)", i)
		case c == '\\':
			return nil, invalid("backslash outside a string at byte %d", i)
		case c == '`':
			j, id, err := lexQuoted(q, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tQuoted, pos: i, text: id})
			i = j
		case c == '\'' || (c == '"' && general):
			j, err := lexString(q, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tString, pos: i, text: q[i:j]})
			i = j
		case c == '"':
			return nil, invalid("double quotes at byte %d: a string or, under ANSI_QUOTES, an identifier", i)
		case c >= '0' && c <= '9':
			j := lexNumber(q, i)
			if j < len(q) && (isWordByte(q[j]) || q[j] == '.' || q[j] == '\'' || q[j] == '"' || q[j] == '`') {
				return nil, invalid("number glued to %q at byte %d (MySQL may lex it as a number and a keyword, or as an identifier)", q[j], j)
			}
			toks = append(toks, token{kind: tNumber, pos: i, text: q[i:j]})
			i = j
		case c == '.' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9':
			// After an identifier MySQL reads ".1e1" as an identifier part,
			// elsewhere as a number: write 0.1.
			return nil, invalid("\".\" before a digit at byte %d (write 0.5, not .5)", i)
		case c == '_' || c == '$' || (c|0x20 >= 'a' && c|0x20 <= 'z'):
			j := i
			for j < len(q) && isWordByte(q[j]) {
				j++
			}
			toks = append(toks, token{kind: tWord, pos: i, text: strings.ToUpper(q[i:j])})
			i = j
		case c == '?':
			toks = append(toks, token{kind: tParam, pos: i, text: "?"})
			i++
		case c == ',' || c == '.' || c == '(' || c == ')' || c == '=' || c == '-':
			toks = append(toks, token{kind: tPunct, pos: i, text: q[i : i+1]})
			i++
		case general && strings.IndexByte("+*/%<>!&|^~", c) >= 0:
			toks = append(toks, token{kind: tPunct, pos: i, text: q[i : i+1]})
			i++
		default:
			return nil, invalid("unexpected character %q at byte %d", c, i)
		}
	}
	return toks, nil
}

// lexQuoted reads the backquoted identifier at q[i]: a doubled backquote
// stands for one, and a backslash is an ordinary character in every mode.
func lexQuoted(q string, i int) (end int, id string, err error) {
	var b strings.Builder
	j := i + 1
	for {
		k := strings.IndexByte(q[j:], '`')
		if k < 0 {
			return 0, "", invalid("unterminated identifier at byte %d", i)
		}
		b.WriteString(q[j : j+k])
		j += k + 1
		if j < len(q) && q[j] == '`' {
			b.WriteByte('`')
			j++
			continue
		}
		break
	}
	id = b.String()
	switch {
	case id == "":
		return 0, "", invalid("empty identifier at byte %d", i)
	}
	return j, id, nil
}

// lexString reads the string at q[i], quoted with q[i]. A doubled quote
// stands for one in every mode; a backslash escapes the next character
// unless NO_BACKSLASH_ESCAPES is set, which moves where the string ends,
// so it is refused.
func lexString(q string, i int) (int, error) {
	quote := q[i]
	j := i + 1
	for j < len(q) {
		switch q[j] {
		case '\\':
			return 0, invalid("backslash in the string at byte %d: it ends elsewhere under NO_BACKSLASH_ESCAPES", i)
		case quote:
			if j+1 < len(q) && q[j+1] == quote {
				j += 2
				continue
			}
			return j + 1, nil
		}
		j++
	}
	return 0, invalid("unterminated string at byte %d", i)
}

// lexNumber returns the end of the number at q[i] (a digit): 0x and 0b
// literals, or digits[.digits][e[+-]digits].
func lexNumber(q string, i int) int {
	digits := func(j int, ok func(byte) bool) int {
		for j < len(q) && ok(q[j]) {
			j++
		}
		return j
	}
	dec := func(c byte) bool { return c >= '0' && c <= '9' }
	if q[i] == '0' && i+2 < len(q) {
		switch q[i+1] {
		case 'x':
			if j := digits(i+2, isHex); j > i+2 {
				return j
			}
		case 'b':
			if j := digits(i+2, func(c byte) bool { return c == '0' || c == '1' }); j > i+2 {
				return j
			}
		}
	}
	j := digits(i, dec)
	if j+1 < len(q) && q[j] == '.' && dec(q[j+1]) {
		// "1." and "1.e1" are numbers to MySQL too, but not needed:
		// stopping at the "." makes them a number glued to it.
		j = digits(j+1, dec)
	}
	if j < len(q) && (q[j] == 'e' || q[j] == 'E') {
		k := j + 1
		if k < len(q) && (q[k] == '+' || q[k] == '-') {
			k++
		}
		if e := digits(k, dec); e > k {
			j = e
		}
	}
	return j
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'f')
}

// isWordByte reports whether MySQL reads c as part of a bare word.
func isWordByte(c byte) bool {
	return c == '_' || c == '$' || (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'z') || c >= 0x80
}
