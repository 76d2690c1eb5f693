package online

import "strings"

// The check of Config.AllowAnySelect: any single SELECT, on the
// allow-list's lexer (sqllex.go), without the clauses and functions below.

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
