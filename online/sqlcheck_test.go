package online

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// Shapes the Hopsworks server generates for online serving
// (PreparedStatementBuilder.buildDTO and ConstructorController in
// logicalclocks/hopsworks, printed by Calcite's MySQL dialect; see
// python/tests/fixtures/serving_prepared_statement_fixtures.json in
// logicalclocks/hopsworks-api for real ones, with their "\n").
var servingShapes = []struct {
	name   string
	q      string
	params int
	width  int // 0: not a batch form
}{
	{"single", "SELECT `fg0`.`ticker` AS `ticker`, `fg0`.`when` AS `when`, `fg0`.`price` AS `price`\nFROM `rdrs2`.`prices_fg_full_1` AS `fg0`\nWHERE `fg0`.`ticker` = ?", 1, 0},
	{"batch, one key", "SELECT `fg0`.`location` AS `location`, `fg0`.`tid` AS `tid`\nFROM `rdrs2`.`fake_transactions_fg_full_1` AS `fg0`\nWHERE `fg0`.`tid` IN ?", 1, 1},
	{"single, two keys", "SELECT `fg0`.`amount` AS `amount`\nFROM `p`.`fg2_1` AS `fg0`\nWHERE `fg0`.`cc` = ? AND `fg0`.`day` = ?", 2, 0},
	{"single, three keys", "SELECT `fg0`.`x` AS `x` FROM `p`.`t_1` AS `fg0` WHERE `fg0`.`a` = ? AND `fg0`.`b` = ? AND `fg0`.`c` = ?", 3, 0},
	{"batch, two keys", "SELECT `fg0`.`cc` AS `cc`, `fg0`.`day` AS `day`, `fg0`.`amount` AS `amount` FROM `tandem`.`fg2_1` AS `fg0` WHERE (`fg0`.`cc`, `fg0`.`day`) IN ?", 1, 2},
	{"batch, one key in parentheses", "SELECT `fg0`.`id` AS `id` FROM `bench`.`fg1_1` AS `fg0` WHERE (`fg0`.`id`) IN ?", 1, 1},
	{"join prefix", "SELECT `fg0`.`amount` AS `right_amount` FROM `p`.`fg_1` AS `fg0` WHERE `fg0`.`id` = ?", 1, 0},
	{"default string", "SELECT CASE WHEN `fg0`.`s` IS NULL THEN 'it''s' ELSE `fg0`.`s` END AS `s`, `fg0`.`id` AS `id` FROM `p`.`fg_1` AS `fg0` WHERE `fg0`.`id` = ?", 1, 0},
	{"default number", "SELECT `fg0`.`id` AS `id`, CASE WHEN `fg0`.`n` IS NULL THEN 10 ELSE `fg0`.`n` END AS `n` FROM `p`.`fg_1` AS `fg0` WHERE `fg0`.`id` = ?", 1, 0},
	{"default negative decimal", "SELECT CASE WHEN `fg0`.`n` IS NULL THEN -1.5e3 ELSE `fg0`.`n` END AS `n` FROM `p`.`fg_1` AS `fg0` WHERE `fg0`.`id` IN ?", 1, 1},
	{"default boolean", "SELECT CASE WHEN `fg0`.`b` IS NULL THEN true ELSE `fg0`.`b` END AS `b` FROM `p`.`fg_1` AS `fg0` WHERE `fg0`.`id` = ?", 1, 0},
	{"default null", "SELECT CASE WHEN `fg0`.`b` IS NULL THEN NULL ELSE `fg0`.`b` END AS `b` FROM `p`.`fg_1` AS `fg0` WHERE `fg0`.`id` = ?", 1, 0},
	{"lower case, tabs, CRLF", "select\t`fg0`.`a` as `a`\r\nfrom `p`.`t` as `fg0`\r\nwhere `fg0`.`k` = ?", 1, 0},
	{"spaces around dots", "SELECT `fg0` . `a` AS `a` FROM `p` . `t` AS `fg0` WHERE `fg0` . `k` = ?", 1, 0},
	{"quoted names with odd characters", "SELECT `fg0`.`a;b` AS `a``b`, `fg0`.`c\\d` AS `-- x`, `fg0`.`/*!1*/` AS `'` FROM `p`.`t` AS `fg0` WHERE `fg0`.`k` = ?", 1, 0},
	{"reserved words as names", "SELECT `select`.`from` AS `where` FROM `into`.`outfile` AS `select` WHERE `select`.`union` = ?", 1, 0},
	{"other alias", "SELECT `t`.`a` AS `a` FROM `p`.`t_1` AS `t` WHERE `t`.`k` = ?", 1, 0},
}

func TestCheckServingAccepts(t *testing.T) {
	for _, tc := range servingShapes {
		t.Run(tc.name, func(t *testing.T) {
			info, err := checkServing(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if info.params != tc.params {
				t.Errorf("params = %d, want %d", info.params, tc.params)
			}
			if tc.width == 0 {
				if info.inAt != -1 {
					t.Errorf("inAt = %d for a single form", info.inAt)
				}
				return
			}
			if info.inAt < 0 || tc.q[info.inAt] != '?' || !strings.HasSuffix(strings.TrimSpace(tc.q[:info.inAt]), "IN") {
				t.Fatalf("inAt = %d does not point at the ? of IN ?", info.inAt)
			}
			if info.tupleWidth != tc.width {
				t.Errorf("tupleWidth = %d, want %d", info.tupleWidth, tc.width)
			}
			// The Store's own expansion is accepted too, as a single
			// form with a placeholder per key column.
			for n := 1; n <= 4; n++ {
				x := expandIn(tc.q, info, n)
				xi, err := checkServing(x)
				if err != nil {
					t.Fatalf("expansion for %d keys %q: %v", n, x, err)
				}
				if xi.params != n*tc.width || xi.inAt != -1 {
					t.Fatalf("expansion for %d keys: %+v, want %d params and no IN ?", n, xi, n*tc.width)
				}
			}
			// Its opt-in check agrees on what it counts.
			ai, err := checkAnySelect(tc.q)
			if err != nil || ai != info {
				t.Fatalf("checkAnySelect = %+v, %v; checkServing %+v", ai, err, info)
			}
		})
	}
}

// Near misses of the shapes: each differs from an accepted statement in
// one place that Hopsworks never generates. The bypass corpus
// (readonly_test.go) holds the attacks.
func TestCheckServingRejectsNearMisses(t *testing.T) {
	const from = " FROM `p`.`t` AS `fg0` WHERE `fg0`.`k` = ?"
	for _, q := range []string{
		"",
		"   ",
		"SELECT `fg0`.`a` AS `a`",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0`",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE `fg0`.`k` = ? AND",
		"SELECT a AS `a`" + from,
		"SELECT `fg0`.a AS `a`" + from,
		"SELECT fg0.`a` AS `a`" + from,
		"SELECT `a` AS `a`" + from,
		"SELECT `fg0`.`a` `a`" + from,
		"SELECT `fg0`.`a` AS a" + from,
		"SELECT `fg0`.`a`" + from,
		"SELECT * " + from,
		"SELECT `fg0`.* " + from,
		"SELECT DISTINCT `fg0`.`a` AS `a`" + from,
		"SELECT `fg0`.`a` AS `a`," + from,
		"SELECT `fg1`.`a` AS `a`" + from,
		"SELECT `fg0`.`a` AS `a`, `fg1`.`b` AS `b`" + from,
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg1` WHERE `fg0`.`k` = ?",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE `fg1`.`k` = ?",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `FG0` WHERE `fg0`.`k` = ?",
		"SELECT `fg0`.`a` AS `a` FROM `t` AS `fg0` WHERE `fg0`.`k` = ?",
		"SELECT `fg0`.`a` AS `a` FROM p.t AS `fg0` WHERE `fg0`.`k` = ?",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` `fg0` WHERE `fg0`.`k` = ?",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0`, `p`.`u` AS `fg1` WHERE `fg0`.`k` = ?",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` JOIN `p`.`u` AS `fg1` WHERE `fg0`.`k` = ?",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE `fg0`.`k` = 1",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE `fg0`.`k` = '1'",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE `fg0`.`k` = ??",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE ? = `fg0`.`k`",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE `fg0`.`k` <=> ?",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE `fg0`.`k` = ? OR `fg0`.`j` = ?",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE `fg0`.`k` = ? AND `fg0`.`j` IN ?",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE (`fg0`.`k` = ?)",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE `fg0`.`k` NOT IN ?",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE `fg0`.`k` IN ??",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE `fg0`.`k` IN (?, ?",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE `fg0`.`k` IN ()",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE `fg0`.`k` IN ((?),(?))",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE `fg0`.`k` IN (?, 1)",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE (`fg0`.`k`, `fg0`.`j`) IN (?, ?)",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE (`fg0`.`k`, `fg0`.`j`) IN ((?, ?), (?))",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE (`fg0`.`k`, `fg0`.`j`) IN ((?, ?), (?, ?, ?))",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE (`fg0`.`k`, `fg0`.`j`) IN ((?, ?) (?, ?))",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE (`fg0`.`k`,) IN ?",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE () IN ?",
		"SELECT `fg0`.`a` AS `a` FROM `p`.`t` AS `fg0` WHERE ((`fg0`.`k`)) IN ?",
		"SELECT `fg0`.`a` AS `a`" + from + " ORDER BY `fg0`.`a`",
		"SELECT `fg0`.`a` AS `a`" + from + " LIMIT 1",
		"SELECT `fg0`.`a` AS `a`" + from + " GROUP BY `fg0`.`a`",
		"SELECT `fg0`.`a` AS `a`" + from + " `x`",
		"SELECT `fg0`.`a` AS `a`" + from + ")",
		"(SELECT `fg0`.`a` AS `a`" + from + ")",
		"SELECT CASE WHEN `fg0`.`a` IS NULL THEN 1 ELSE `fg0`.`b` END AS `a`" + from,
		"SELECT CASE WHEN `fg0`.`a` IS NOT NULL THEN 1 ELSE `fg0`.`a` END AS `a`" + from,
		"SELECT CASE WHEN `fg0`.`a` IS NULL THEN `fg0`.`b` ELSE `fg0`.`a` END AS `a`" + from,
		"SELECT CASE WHEN `fg0`.`a` IS NULL THEN 1 + 1 ELSE `fg0`.`a` END AS `a`" + from,
		"SELECT CASE WHEN `fg0`.`a` IS NULL THEN - -1 ELSE `fg0`.`a` END AS `a`" + from,
		"SELECT CASE WHEN `fg0`.`a` IS NULL THEN 'a' 'b' ELSE `fg0`.`a` END AS `a`" + from,
		"SELECT CASE WHEN `fg0`.`a` IS NULL THEN 0x41 ELSE `fg0`.`a` END AS `a`" + from,
		"SELECT CASE WHEN `fg0`.`a` IS NULL THEN 0b1 ELSE `fg0`.`a` END AS `a`" + from,
		"SELECT CASE WHEN `fg0`.`a` IS NULL THEN X'41' ELSE `fg0`.`a` END AS `a`" + from,
		"SELECT CASE WHEN `fg0`.`a` IS NULL THEN N'x' ELSE `fg0`.`a` END AS `a`" + from,
		"SELECT CASE WHEN `fg0`.`a` IS NULL THEN _utf8mb4'x' ELSE `fg0`.`a` END AS `a`" + from,
		"SELECT CASE WHEN `fg0`.`a` IS NULL THEN DATE '2020-01-01' ELSE `fg0`.`a` END AS `a`" + from,
		"SELECT CASE WHEN `fg0`.`a` IS NULL THEN 1 ELSE `fg0`.`a` AS `a`" + from,
		"SELECT CASE WHEN `fg0`.`a` IS NULL THEN 1 WHEN `fg0`.`b` IS NULL THEN 2 ELSE `fg0`.`a` END AS `a`" + from,
		"SELECT CASE `fg0`.`a` WHEN 1 THEN 1 ELSE `fg0`.`a` END AS `a`" + from,
		"SELECT `fg0`.`a` AS ``" + from,
		"SELECT `fg0`.`a` AS `a" + from,
		"SELECT `fg0`.`a` AS `a`" + from + ";",
		"SELECT `fg0`.`a` AS `a`" + from + "\x00",
		"SELECT `fg0`.`a` AS `a`" + from + "\v",
		"SELECT `fg0`.`a` AS `a`" + from + "\f",
		"SELECT `fg0`.`a` AS `a`" + strings.Repeat(" ", maxStatement) + from,
	} {
		if _, err := checkServing(q); !errors.Is(err, ErrInvalidStatement) {
			t.Errorf("checkServing(%.120q) = %v, want ErrInvalidStatement", q, err)
		}
	}
}

// The opt-in check accepts a SELECT that is not a Hopsworks shape, with
// the same lexer and a deny-list.
func TestCheckAnySelect(t *testing.T) {
	for _, tc := range []struct {
		q      string
		params int
		width  int
	}{
		{qTypes, 1, 0},
		{"SELECT * FROM tandem.sc WHERE id = ?", 1, 0},
		{"SELECT a, COUNT(*) FROM t WHERE b > ? GROUP BY a ORDER BY a LIMIT 10", 1, 0},
		{"SELECT a FROM t WHERE (x, y) IN ? AND z = ?", 2, 2},
		{"SELECT 'a''b', \"c\", 0x1F, 1.5e-3, a<>b, a|b FROM t", 0, 0},
		{"(SELECT a FROM t)", 0, 0},
		{"SELECT a FROM t WHERE `next` = 1 AND `sleep` = 2", 0, 0}, // names, not calls
	} {
		info, err := checkAnySelect(tc.q)
		if err != nil {
			t.Errorf("checkAnySelect(%q) = %v", tc.q, err)
			continue
		}
		if info.params != tc.params || (tc.width > 0) != (info.inAt >= 0) || (tc.width > 0 && info.tupleWidth != tc.width) {
			t.Errorf("checkAnySelect(%q) = %+v, want %d params, width %d", tc.q, info, tc.params, tc.width)
		}
	}
	for _, q := range []string{
		"UPDATE t SET a = 1",
		"DELETE FROM t",
		"WITH x AS (SELECT 1) SELECT * FROM x",
		"SELECT a FROM t WHERE x IN ? AND y IN ?",
		"SELECT `SLEEP`(1)",
		"SELECT sleep (1)",
		"SELECT 'a\\'' FROM t",
		"SELECT a FROM t -- x",
		"SELECT a FROM t /* x */",
		"SELECT a FROM t LIMIT 1 INTO @v",
		"SELECT a FROM t PROCEDURE ANALYSE()",
		"SELECT a FROM t WHERE a = {d '2020-01-01'}",
		"SELECT a FROM t WHERE a = \\N",
	} {
		if _, err := checkAnySelect(q); !errors.Is(err, ErrInvalidStatement) {
			t.Errorf("checkAnySelect(%q) = %v, want ErrInvalidStatement", q, err)
		}
	}
}

func TestConfigSelectsTheCheck(t *testing.T) {
	const q = "SELECT * FROM tandem.sc WHERE id = ?"
	if _, err := (&Config{}).checkStatement(q); !errors.Is(err, ErrInvalidStatement) {
		t.Errorf("default config accepted %q: %v", q, err)
	}
	if _, err := (&Config{AllowAnySelect: true}).checkStatement(q); err != nil {
		t.Errorf("AllowAnySelect refused %q: %v", q, err)
	}
	if _, err := (&Config{AllowAnySelect: true}).checkStatement("SELECT 1 INTO OUTFILE '/tmp/x'"); !errors.Is(err, ErrInvalidStatement) {
		t.Errorf("AllowAnySelect accepted INTO OUTFILE: %v", err)
	}
}

// servingRE is the allow-list written again, independently of the parser,
// as a regular expression over the canonical rendering of the tokens
// (canonical), so that the fuzzer can check that whatever the parser
// accepts has the shape. The alias's consistency is checked apart: a Go
// regexp has no back-references.
var servingRE = func() *regexp.Regexp {
	id := "`(?:[^`]|``)+`"
	col := id + " \\. " + id
	lit := "(?:'(?:[^']|'')*'|-? ?[0-9][0-9.eE+-]*|TRUE|FALSE|NULL)"
	item := "(?:" + col + "|CASE WHEN " + col + " IS NULL THEN " + lit + " ELSE " + col + " END) AS " + id
	eq := col + " = \\?"
	cols := "(?:" + col + "|\\( " + col + "(?: , " + col + ")* \\))"
	in := cols + " IN (?:\\?|\\( \\?(?: , \\?)* \\)|\\( \\( \\?(?: , \\?)* \\)(?: , \\( \\?(?: , \\?)* \\))* \\))"
	return regexp.MustCompile("^SELECT " + item + "(?: , " + item + ")* FROM " + id + " \\. " + id + " AS " + id +
		" WHERE (?:" + eq + "(?: AND " + eq + ")*|" + in + ")$")
}()

// canonical renders tokens with one space between them, identifiers
// backquoted again.
func canonical(toks []token) string {
	parts := make([]string, len(toks))
	for i, t := range toks {
		if t.kind == tQuoted {
			parts[i] = "`" + strings.ReplaceAll(t.text, "`", "``") + "`"
		} else {
			parts[i] = t.text
		}
	}
	return strings.Join(parts, " ")
}

func FuzzCheckServing(f *testing.F) {
	for _, tc := range servingShapes {
		f.Add(tc.q)
	}
	for _, b := range bypassCorpus("/tmp/d") {
		f.Add(b.q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		info, err := checkServing(q)
		if err != nil {
			if !errors.Is(err, ErrInvalidStatement) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		toks, err := lex(q, false)
		if err != nil {
			t.Fatalf("accepted %q, which does not lex: %v", q, err)
		}
		c := canonical(toks)
		if !servingRE.MatchString(c) {
			t.Fatalf("accepted %q, whose tokens %q are not a serving shape", q, c)
		}
		alias := ""
		for i, tk := range toks {
			switch {
			case tk.is(tWord, "FROM"): // FROM `db` . `t` AS `a`: the regexp placed them
				if toks[i+5].text != alias {
					t.Fatalf("accepted %q whose FROM alias %q is not %q", q, toks[i+5].text, alias)
				}
			case tk.kind == tQuoted && toks[i+1].is(tPunct, ".") && !toks[i-1].is(tWord, "FROM"):
				if alias == "" {
					alias = tk.text
				} else if tk.text != alias {
					t.Fatalf("accepted %q with two aliases %q and %q", q, alias, tk.text)
				}
			}
		}
		if again, err := checkServing(c); err != nil || again != withoutPositions(info, again) {
			t.Fatalf("canonical form %q of accepted %q: %+v, %v (was %+v)", c, q, again, err, info)
		}
		if _, err := checkAnySelect(q); err != nil {
			t.Fatalf("the opt-in check refuses %q, which the allow-list accepts: %v", q, err)
		}
		if info.inAt >= 0 {
			x := expandIn(q, info, 3)
			xi, err := checkServing(x)
			if err != nil || xi.params != 3*info.tupleWidth {
				t.Fatalf("expansion %q of accepted %q: %+v, %v", x, q, xi, err)
			}
		}
	})
}

// withoutPositions returns info with again's byte offset: the canonical
// form moves the "?" but must keep the counts.
func withoutPositions(info, again stmtInfo) stmtInfo {
	if info.inAt >= 0 {
		info.inAt = again.inAt
	}
	return info
}
