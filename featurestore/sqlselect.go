package featurestore

import (
	"errors"
	"strings"
)

// errSelectStar: the select list has a '*', so its columns cannot be
// known before the statement runs.
var errSelectStar = errors.New("selects *")

// selectedColumns returns the names of the columns a SELECT returns, in
// order, read from its select list: an item's name is its alias, or the
// last identifier of a column reference (`fg0`.`tax` AS `c_tax` is c_tax,
// `fg0`.`tax` is tax), as MySQL names result columns. An item that is an
// expression without an alias gets "" (it can match no feature). It lexes
// as MySQL does: backquoted identifiers with doubled backquotes, '…' and
// "…" strings with backslash escapes and doubled quotes, comments.
//
// The statements come from metadata, which is outside input: a statement
// it cannot read is an error, never a panic.
func selectedColumns(sql string) ([]string, error) {
	l := sqlLexer{s: sql}
	t := l.next()
	if t.kind != tokIdent || t.quoted || !strings.EqualFold(t.text, "SELECT") {
		return nil, errors.New("not a SELECT")
	}
	var (
		cols  []string
		name  string
		star  bool
		depth int
		fresh = true // no token of the select list read yet
	)
loop:
	for {
		t = l.next()
		switch {
		case t.kind == tokErr:
			return nil, errors.New(t.text)
		case t.kind == tokEOF:
			return nil, errors.New("a SELECT without FROM")
		case t.kind == tokPunct && t.text == "(":
			depth++
			name = ""
			continue
		case t.kind == tokPunct && t.text == ")":
			if depth == 0 {
				return nil, errors.New("unbalanced parentheses")
			}
			depth--
			name = ""
			continue
		}
		if depth > 0 {
			continue
		}
		end := t.kind == tokIdent && !t.quoted && strings.EqualFold(t.text, "FROM")
		if end || (t.kind == tokPunct && t.text == ",") {
			cols = append(cols, name)
			name = ""
			if end {
				break loop
			}
			continue
		}
		wasFresh := fresh
		fresh = false
		switch {
		case t.kind == tokPunct && t.text == "*":
			star = true
		case wasFresh && t.kind == tokIdent && !t.quoted &&
			(strings.EqualFold(t.text, "DISTINCT") || strings.EqualFold(t.text, "ALL")):
		case t.kind == tokIdent && !(!t.quoted && strings.EqualFold(t.text, "AS")):
			name = t.text
		case t.kind == tokPunct && t.text == ".":
			// `fg0`.`tax`: the next identifier names the column.
		default:
			name = ""
		}
	}
	if star {
		return nil, errSelectStar
	}
	return cols, nil
}

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokErr
	tokIdent
	tokString
	tokNumber
	tokPunct
)

type token struct {
	kind   tokKind
	text   string
	quoted bool
}

type sqlLexer struct {
	s string
	i int
}

func (l *sqlLexer) next() token {
	for {
		l.skipSpace()
		if l.i >= len(l.s) {
			return token{kind: tokEOF}
		}
		rest := l.s[l.i:]
		switch {
		case strings.HasPrefix(rest, "/*"):
			end := strings.Index(rest[2:], "*/")
			if end < 0 {
				return token{kind: tokErr, text: "unterminated comment"}
			}
			l.i += 2 + end + 2
			continue
		case rest[0] == '#' || (strings.HasPrefix(rest, "--") && (len(rest) == 2 || isSpace(rest[2]))):
			end := strings.IndexByte(rest, '\n')
			if end < 0 {
				l.i = len(l.s)
			} else {
				l.i += end + 1
			}
			continue
		}
		c := rest[0]
		switch {
		case c == '`':
			text, ok := l.quoted('`', false)
			if !ok {
				return token{kind: tokErr, text: "unterminated identifier"}
			}
			return token{kind: tokIdent, text: text, quoted: true}
		case c == '\'' || c == '"':
			text, ok := l.quoted(c, true)
			if !ok {
				return token{kind: tokErr, text: "unterminated string"}
			}
			return token{kind: tokString, text: text}
		case isIdentByte(c):
			start := l.i
			for l.i < len(l.s) && isIdentByte(l.s[l.i]) {
				l.i++
			}
			text := l.s[start:l.i]
			if c >= '0' && c <= '9' {
				return token{kind: tokNumber, text: text}
			}
			return token{kind: tokIdent, text: text}
		}
		l.i++
		return token{kind: tokPunct, text: string(c)}
	}
}

// quoted reads a q-quoted token at l.i: a doubled q is one q, and with
// escapes a backslash escapes the next byte.
func (l *sqlLexer) quoted(q byte, escapes bool) (string, bool) {
	var b strings.Builder
	for l.i++; l.i < len(l.s); l.i++ {
		c := l.s[l.i]
		switch {
		case escapes && c == '\\' && l.i+1 < len(l.s):
			l.i++
			b.WriteByte(l.s[l.i])
		case c == q && l.i+1 < len(l.s) && l.s[l.i+1] == q:
			l.i++
			b.WriteByte(q)
		case c == q:
			l.i++
			return b.String(), true
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}

func (l *sqlLexer) skipSpace() {
	for l.i < len(l.s) && isSpace(l.s[l.i]) {
		l.i++
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}
