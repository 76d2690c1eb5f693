package online

import (
	"fmt"
	"strings"
)

// Read-only by construction, layer one: the statement's text.
//
// Statements come from Hopsworks' metadata, so a Store must not run one
// that writes, locks, sleeps or reads files. By default Prepare accepts
// only the shapes that the Hopsworks server generates for online serving
// (PreparedStatementBuilder and ConstructorController in
// logicalclocks/hopsworks, printed by Calcite's MySQL dialect):
//
//	SELECT item {, item}
//	FROM `db`.`table` AS `a`
//	WHERE `a`.`pk` = ? {AND `a`.`pk` = ?}          single form
//	WHERE `a`.`pk` IN ?                            batch form
//	WHERE (`a`.`pk` {, `a`.`pk`}) IN ?             batch form, several keys
//
//	item: `a`.`col` AS `name`
//	    | CASE WHEN `a`.`col` IS NULL THEN literal ELSE `a`.`col` END AS `name`
//	literal: 'string' | [-]number | TRUE | FALSE | NULL
//
// The CASE form is what Hopsworks prints for a feature with a default
// value. The batch form's "IN ?" may also be expanded into bound
// placeholders, as [Stmt.Batch] does: IN (?,?) for one key column, IN
// ((?,?),(?,?)) for several. Identifiers are backquoted in every position,
// `a` is the same alias throughout; keywords match case-insensitively.
//
// The lexer below lexes as MySQL 8 and MariaDB do, in every sql_mode, and
// refuses whatever two of those lexers could read differently: every
// comment (#, -- and /* */, which covers the executable /*! */ and /*M! */),
// a backslash in a string (NO_BACKSLASH_ESCAPES changes where the string
// ends), double quotes (ANSI_QUOTES makes them identifiers), a number glued
// to a word (MySQL lexes 1e0INTO as 1e0 INTO, and 1x as an identifier),
// any byte that is not printable ASCII, even in quotes (a lookalike letter
// is an identifier character to MySQL, never a keyword, and under a
// multi-byte client character set such as GBK a byte >= 0x80 can take the
// next quote into one character), @ and := (variables) and ;. The
// allow-list then leaves no room for functions, variables, INTO, locking
// clauses, unions or subqueries.
//
// [Config.AllowAnySelect] switches to a general check (checkAnySelect): one
// SELECT, the same lexer, and a deny-list of clauses and well-known
// functions with side effects. A deny-list is never complete; that mode
// relies on the server's read-only session (session.go) for rows and
// sequences and on the user's privileges for the rest.

// maxStatement bounds a statement's text.
const maxStatement = 1 << 20

// stmtInfo is what Tandem needs to know about a statement's text.
type stmtInfo struct {
	params int // number of ? placeholders
	// inAt is the byte offset of the "?" in a batch form "... IN ?", or -1.
	inAt int
	// tupleWidth is the number of columns in the "( … ) IN ?" tuple (1 for
	// "col IN ?").
	tupleWidth int
}

// checkStatement validates q with the check the config selects: the
// allow-list of Hopsworks' shapes, or any SELECT if AllowAnySelect is set.
func (c *Config) checkStatement(q string) (stmtInfo, error) {
	if c.AllowAnySelect {
		return checkAnySelect(q)
	}
	return checkServing(q)
}

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

// checkServing accepts exactly the statement shapes Hopsworks generates for
// online serving (see the file comment) and counts their placeholders.
func checkServing(q string) (stmtInfo, error) {
	toks, err := lex(q, false)
	if err != nil {
		return stmtInfo{inAt: -1}, err
	}
	p := &servingParser{q: q, toks: toks, info: stmtInfo{inAt: -1}}
	if err := p.statement(); err != nil {
		return stmtInfo{inAt: -1}, err
	}
	return p.info, nil
}

type servingParser struct {
	q     string
	toks  []token
	k     int
	alias string
	info  stmtInfo
}

func (p *servingParser) peek() token {
	if p.k < len(p.toks) {
		return p.toks[p.k]
	}
	return token{pos: len(p.q)}
}

func (p *servingParser) fail(want string) error {
	t := p.peek()
	if t.kind == 0 {
		return invalid("want %s at the end; only the statement shapes Hopsworks generates for online serving are accepted (see online.Config.AllowAnySelect)", want)
	}
	return invalid("want %s at byte %d, got %q; only the statement shapes Hopsworks generates for online serving are accepted (see online.Config.AllowAnySelect)", want, t.pos, p.q[t.pos:min(len(p.q), t.pos+20)])
}

func (p *servingParser) keyword(w string) error {
	if !p.peek().is(tWord, w) {
		return p.fail(w)
	}
	p.k++
	return nil
}

func (p *servingParser) punct(c string) error {
	if !p.peek().is(tPunct, c) {
		return p.fail(fmt.Sprintf("%q", c))
	}
	p.k++
	return nil
}

func (p *servingParser) ident() (string, error) {
	t := p.peek()
	if t.kind != tQuoted {
		return "", p.fail("a `backquoted` identifier")
	}
	p.k++
	return t.text, nil
}

// column reads `alias`.`name`.
func (p *servingParser) column() (string, error) {
	a, err := p.ident()
	if err != nil {
		return "", err
	}
	if p.alias == "" {
		p.alias = a // the select list names the alias before FROM does
	} else if a != p.alias {
		p.k--
		return "", p.fail(fmt.Sprintf("the table's alias `%s`", p.alias))
	}
	if err := p.punct("."); err != nil {
		return "", err
	}
	return p.ident()
}

func (p *servingParser) param() error {
	if p.peek().kind != tParam {
		return p.fail("?")
	}
	p.k++
	p.info.params++
	return nil
}

func (p *servingParser) statement() error {
	if err := p.keyword("SELECT"); err != nil {
		return err
	}
	for {
		if err := p.item(); err != nil {
			return err
		}
		if !p.peek().is(tPunct, ",") {
			break
		}
		p.k++
	}
	if err := p.keyword("FROM"); err != nil {
		return err
	}
	if _, err := p.ident(); err != nil {
		return err
	}
	if err := p.punct("."); err != nil {
		return err
	}
	if _, err := p.ident(); err != nil {
		return err
	}
	if err := p.keyword("AS"); err != nil {
		return err
	}
	a, err := p.ident()
	if err != nil {
		return err
	}
	if a != p.alias {
		p.k--
		return p.fail(fmt.Sprintf("the alias `%s` of the select list", p.alias))
	}
	if err := p.keyword("WHERE"); err != nil {
		return err
	}
	if err := p.where(); err != nil {
		return err
	}
	if p.k != len(p.toks) {
		return p.fail("the end of the statement")
	}
	return nil
}

// item reads one entry of the select list.
func (p *servingParser) item() error {
	if p.peek().is(tWord, "CASE") {
		p.k++
		if err := p.keyword("WHEN"); err != nil {
			return err
		}
		col, err := p.column()
		if err != nil {
			return err
		}
		for _, w := range []string{"IS", "NULL", "THEN"} {
			if err := p.keyword(w); err != nil {
				return err
			}
		}
		if err := p.literal(); err != nil {
			return err
		}
		if err := p.keyword("ELSE"); err != nil {
			return err
		}
		again, err := p.column()
		if err != nil {
			return err
		}
		if again != col {
			p.k--
			return p.fail(fmt.Sprintf("the column `%s` of WHEN", col))
		}
		if err := p.keyword("END"); err != nil {
			return err
		}
	} else if _, err := p.column(); err != nil {
		return err
	}
	if err := p.keyword("AS"); err != nil {
		return err
	}
	_, err := p.ident()
	return err
}

// literal reads a feature's default value as Hopsworks prints it: a string
// (Calcite doubles its quotes), a number, or TRUE, FALSE, NULL.
func (p *servingParser) literal() error {
	t := p.peek()
	switch {
	case t.kind == tString, t.kind == tNumber && isDecimal(t.text):
		p.k++
		return nil
	case t.is(tPunct, "-") && p.k+1 < len(p.toks) && p.toks[p.k+1].kind == tNumber && isDecimal(p.toks[p.k+1].text):
		p.k += 2
		return nil
	case t.is(tWord, "TRUE"), t.is(tWord, "FALSE"), t.is(tWord, "NULL"):
		p.k++
		return nil
	}
	return p.fail("a default value (a string, a number, TRUE, FALSE or NULL)")
}

func isDecimal(n string) bool { return !strings.HasPrefix(n, "0x") && !strings.HasPrefix(n, "0b") }

// where reads the single form's equalities or the batch form's IN.
func (p *servingParser) where() error {
	width := 1
	tuple := p.peek().is(tPunct, "(")
	if tuple {
		p.k++
		for {
			if _, err := p.column(); err != nil {
				return err
			}
			if !p.peek().is(tPunct, ",") {
				break
			}
			p.k++
			width++
		}
		if err := p.punct(")"); err != nil {
			return err
		}
		return p.in(width)
	}
	if _, err := p.column(); err != nil {
		return err
	}
	if p.peek().is(tWord, "IN") {
		return p.in(1)
	}
	for {
		if err := p.punct("="); err != nil {
			return err
		}
		if err := p.param(); err != nil {
			return err
		}
		if !p.peek().is(tWord, "AND") {
			return nil
		}
		p.k++
		if _, err := p.column(); err != nil {
			return err
		}
	}
}

// in reads "IN ?" or its expansion, IN (?,?) for width 1 and
// IN ((?,?),(?,?)) for more.
func (p *servingParser) in(width int) error {
	if err := p.keyword("IN"); err != nil {
		return err
	}
	if t := p.peek(); t.kind == tParam {
		p.info.inAt, p.info.tupleWidth = t.pos, width
		return p.param()
	}
	if err := p.punct("("); err != nil {
		return err
	}
	for {
		if width == 1 {
			if err := p.param(); err != nil {
				return err
			}
		} else {
			if err := p.punct("("); err != nil {
				return err
			}
			for c := 0; c < width; c++ {
				if c > 0 {
					if err := p.punct(","); err != nil {
						return err
					}
				}
				if err := p.param(); err != nil {
					return err
				}
			}
			if err := p.punct(")"); err != nil {
				return err
			}
		}
		if !p.peek().is(tPunct, ",") {
			break
		}
		p.k++
	}
	return p.punct(")")
}

// denied are the words checkAnySelect refuses, bare or backquoted: clauses
// that write, lock or assign (INTO, FOR UPDATE, LOCK IN SHARE MODE, NEXT
// VALUE FOR, PROCEDURE), other statements, and well-known functions with
// side effects. The list cannot be complete (stored functions are anyone's
// names): see Config.AllowAnySelect.
var denied = map[string]bool{
	"INTO": true, "OUTFILE": true, "DUMPFILE": true, "FOR": true, "LOCK": true, "SHARE": true,
	"UPDATE": true, "DELETE": true, "INSERT": true, "REPLACE": true, "CALL": true, "HANDLER": true,
	"LOAD": true, "PROCEDURE": true, "SET": true, "DO": true,
	"NEXTVAL": true, "LASTVAL": true, "SETVAL": true, "NEXT": true, "PREVIOUS": true,
	"GET_LOCK": true, "RELEASE_LOCK": true, "RELEASE_ALL_LOCKS": true,
	"SLEEP": true, "BENCHMARK": true, "LOAD_FILE": true,
	"MASTER_POS_WAIT": true, "SOURCE_POS_WAIT": true, "MASTER_GTID_WAIT": true,
	"WAIT_FOR_EXECUTED_GTID_SET": true, "WAIT_UNTIL_SQL_THREAD_AFTER_GTIDS": true,
	"SYS_EXEC": true, "SYS_EVAL": true, // lib_mysqludf_sys
}

// checkAnySelect is the check of Config.AllowAnySelect: q is one SELECT,
// lexed as strictly as the allow-list, without a denied word. Functions
// are not checked beyond the deny-list.
func checkAnySelect(q string) (stmtInfo, error) {
	info := stmtInfo{inAt: -1}
	toks, err := lex(q, true)
	if err != nil {
		return info, err
	}
	first := 0
	for first < len(toks) && toks[first].is(tPunct, "(") {
		first++
	}
	if first == len(toks) || !toks[first].is(tWord, "SELECT") {
		return info, invalid("only a SELECT is accepted")
	}
	for k, t := range toks {
		switch t.kind {
		case tWord:
			if denied[t.text] {
				return info, invalid("%q is not allowed in a read (byte %d)", t.text, t.pos)
			}
		case tQuoted:
			// MySQL calls a backquoted function name, e.g. `sleep`(1).
			if w := strings.ToUpper(t.text); denied[w] && k+1 < len(toks) && toks[k+1].is(tPunct, "(") {
				return info, invalid("%q is not allowed in a read (byte %d)", w, t.pos)
			}
		case tString:
			// Under ANSI_QUOTES, "sleep"(1) is a call; a string is never
			// followed by "(" otherwise.
			if k+1 < len(toks) && toks[k+1].is(tPunct, "(") {
				return info, invalid("a quoted name followed by \"(\" at byte %d is a function call under ANSI_QUOTES", t.pos)
			}
		case tParam:
			info.params++
			if k >= 1 && toks[k-1].is(tWord, "IN") {
				if info.inAt >= 0 {
					return info, invalid("more than one \"IN ?\" batch placeholder")
				}
				info.inAt = t.pos
				info.tupleWidth = tupleWidth(toks[:k-1])
			}
		}
	}
	return info, nil
}

// tupleWidth counts the columns of the tuple that ends toks ("( a , b )"
// gives 2); a bare column gives 1.
func tupleWidth(toks []token) int {
	if len(toks) == 0 || !toks[len(toks)-1].is(tPunct, ")") {
		return 1
	}
	depth, commas := 0, 0
	for k := len(toks) - 1; k >= 0; k-- {
		switch {
		case toks[k].is(tPunct, ")"):
			depth++
		case toks[k].is(tPunct, "("):
			depth--
			if depth == 0 {
				return commas + 1
			}
		case toks[k].is(tPunct, ",") && depth == 1:
			commas++
		}
	}
	return 1
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
