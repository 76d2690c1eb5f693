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
// The lexer (sqllex.go) lexes as MySQL 8 and MariaDB do, in every
// sql_mode, and refuses whatever two of those lexers could read
// differently: every
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
// A few statements Hopsworks can generate are refused all the same: a
// default value with a backslash or a character beyond ASCII, or one that
// Calcite prints raw and MySQL would compute (a date such as 2020-01-01).
// Names are [a-z0-9_] in Hopsworks, so identifiers never hit the ASCII rule.
//
// [Config.AllowAnySelect] switches to a general check (sqlany.go): one
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
