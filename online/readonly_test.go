package online

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tandemfs/tandem/internal/mariadbtest"
)

// The bypass corpus: statements that try to get a write, a lock, a file,
// a sleep or a side effect past the statement check. Each names its class
// and, where running it on a plain session does something observable, that
// effect: TestBypassCorpusIsReal runs those on a plain session as a control
// and sees the effect happen, so the detectors of TestReadOnlyBypassCorpus,
// which runs every entry through the Store, are known to work.

type effect uint8

const (
	effNone  effect = iota // a lexing or shape trick, nothing to observe
	effFile                // creates a file in the output directory
	effRow                 // changes a row (tandem.audit)
	effSeq                 // moves the sequence tandem.seq
	effLock                // takes the user-level lock tandem_k
	effSleep               // sleeps for a second
	effRead                // returns the secret file's contents
)

type bypass struct {
	class  string
	q      string
	effect effect
	// mode is the control session's sql_mode, for tricks that need one.
	mode string
	// anyOK: Config.AllowAnySelect accepts it, so only the server and the
	// account's privileges stand in its way (TestReadOnlySecondLayer).
	anyOK bool
}

const (
	roBase   = "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS `a` FROM `tandem`.`ro_1` AS `fg0` WHERE `fg0`.`id` = ?"
	roFrom   = " FROM `tandem`.`ro_1` AS `fg0` WHERE `fg0`.`id` = ?"
	roSecret = "tandem-secret"
)

// bypassCorpus returns the corpus with files written under dir and the
// secret read from dir/../secret.txt.
func bypassCorpus(dir string) []bypass {
	secret := filepath.Join(filepath.Dir(dir), "secret.txt")
	r := strings.NewReplacer("{D}", dir, "{S}", secret)
	out := []bypass{
		// MySQL's comment rule: "--" starts a comment only before white
		// space or a control character; "--x" is two minus signs.
		{"comment rule", roBase + " --1 INTO OUTFILE '{D}/c1'", effFile, "", false},
		{"comment rule", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` --1, SLEEP(1) AS `a`" + roFrom, effSleep, "", false},
		{"comment rule", roBase + " --\tcomment", effNone, "", false},
		{"comment rule", roBase + " --\x0bcomment", effNone, "", false},
		{"comment rule", roBase + " --\x01comment", effNone, "", false},
		{"comment rule", roBase + " -- x\nINTO OUTFILE '{D}/c2'", effFile, "", false},
		{"comment rule", roBase + " # x\nINTO OUTFILE '{D}/c3'", effFile, "", false},
		{"comment rule", roBase + " #\n, SLEEP(1)", effNone, "", false},
		{"comment rule", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS `a`--\n" + roFrom, effNone, "", false},
		{"comment rule", roBase + " /* x */", effNone, "", false},
		{"comment rule", roBase + " /* x", effNone, "", false},
		{"comment rule", roBase + " /* /* */ INTO OUTFILE '{D}/c4' */", effNone, "", false},
		// Executable comments: MySQL and MariaDB run /*! … */, MariaDB
		// also /*M! … */, with or without a minimum version.
		{"executable comment", roBase + " /*!50000 INTO OUTFILE '{D}/e1' */", effFile, "", false},
		{"executable comment", roBase + " /*M!100000 INTO OUTFILE '{D}/e2' */", effFile, "", false},
		{"executable comment", roBase + " /*!INTO OUTFILE '{D}/e3'*/", effFile, "", false},
		{"executable comment", roBase + " /*M!INTO DUMPFILE '{D}/e4'*/", effFile, "", false},
		{"executable comment", "SELECT `fg0`.`id` AS `id` /*M!, SLEEP(1) AS `s`*/, `fg0`.`a` AS `a`" + roFrom, effSleep, "", false},
		{"executable comment", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS `a` /*!, GET_LOCK('tandem_k', 0) AS `l`*/" + roFrom, effLock, "", false},
		{"executable comment", roBase + " /*!50000 FOR UPDATE */", effNone, "", false},
		{"executable comment", roBase + " /*M!999999 INTO OUTFILE '{D}/e5' */", effNone, "", false},
		{"executable comment", "SELECT /*+ MAX_EXECUTION_TIME(1) */ `fg0`.`id` AS `id`, `fg0`.`a` AS `a`" + roFrom, effNone, "", false},
		{"executable comment", roBase + " /*!*/", effNone, "", false},
		// Numbers glued to keywords: MySQL lexes 1e0INTO as 1e0 INTO,
		// and .1e1UNION as .1e1 UNION.
		{"glued number", "SELECT 1e0INTO OUTFILE '{D}/n1'", effFile, "", false},
		{"glued number", "SELECT 1e0INTO @tandem_v", effNone, "", false},
		{"glued number", "SELECT 0x1INTO @tandem_v", effNone, "", false},
		{"glued number", "SELECT .1e1UNION SELECT GET_LOCK('tandem_k', 0)", effLock, "", false},
		{"glued number", "SELECT 1.5e3FROM `tandem`.`ro_1` WHERE `id` = ? UNION SELECT SLEEP(1)", effSleep, "", false},
		{"glued number", "SELECT 1e1UNION SELECT 1 INTO DUMPFILE '{D}/n2'", effFile, "", false},
		{"glued number", "SELECT CASE WHEN `fg0`.`a` IS NULL THEN 1e0ELSE `fg0`.`a` END AS `a`" + roFrom, effNone, "", false},
		{"glued number", "SELECT CASE WHEN `fg0`.`a` IS NULL THEN 1ELSE `fg0`.`a` END AS `a`" + roFrom, effNone, "", false},
		{"glued number", "SELECT CASE WHEN `fg0`.`a` IS NULL THEN .5 ELSE `fg0`.`a` END AS `a`" + roFrom, effNone, "", false},
		{"glued number", "SELECT CASE WHEN `fg0`.`a` IS NULL THEN 1.e1 ELSE `fg0`.`a` END AS `a`" + roFrom, effNone, "", false},
		{"glued number", "SELECT CASE WHEN `fg0`.`a` IS NULL THEN 0X1 ELSE `fg0`.`a` END AS `a`" + roFrom, effNone, "", false},
		{"glued number", "SELECT CASE WHEN `fg0`.`a` IS NULL THEN 1`x` ELSE `fg0`.`a` END AS `a`" + roFrom, effNone, "", false},
		{"glued number", "SELECT 1'x'", effNone, "", false},
		// Side effects inside an otherwise plain SELECT: sequences.
		{"sequence", "SELECT `fg0`.`id` AS `id`, NEXTVAL(`tandem`.`seq`) AS `a`" + roFrom, effSeq, "", false},
		{"sequence", "SELECT `fg0`.`id` AS `id`, NEXT VALUE FOR `tandem`.`seq` AS `a`" + roFrom, effSeq, "", false},
		{"sequence", "SELECT `fg0`.`id` AS `id`, SETVAL(`tandem`.`seq`, 1000) AS `a`" + roFrom, effSeq, "", false},
		{"sequence", "SELECT `fg0`.`id` AS `id`, `nextval`(`tandem`.`seq`) AS `a`" + roFrom, effNone, "", false}, // a stored function's name when quoted
		{"sequence", "SELECT `fg0`.`id` AS `id`, nextval (`tandem`.`seq`) AS `a`" + roFrom, effSeq, "", false},
		{"sequence", "SELECT `fg0`.`id` AS `id`, LASTVAL(`tandem`.`seq`) AS `a`" + roFrom, effNone, "", false},
		{"sequence", "SELECT `fg0`.`id` AS `id`, PREVIOUS VALUE FOR `tandem`.`seq` AS `a`" + roFrom, effNone, "", false},
		{"sequence", "SELECT NEXTVAL(`tandem`.`seq`)", effSeq, "", false},
		// Locks, sleeps, file reads.
		{"lock", "SELECT `fg0`.`id` AS `id`, GET_LOCK('tandem_k', 0) AS `a`" + roFrom, effLock, "", false},
		{"lock", "SELECT `fg0`.`id` AS `id`, `GET_LOCK`('tandem_k', 0) AS `a`" + roFrom, effLock, "", false},
		{"lock", "SELECT `fg0`.`id` AS `id`, RELEASE_LOCK('tandem_k') AS `a`" + roFrom, effNone, "", false},
		{"lock", "SELECT `fg0`.`id` AS `id`, RELEASE_ALL_LOCKS() AS `a`" + roFrom, effNone, "", false},
		{"lock", "SELECT `fg0`.`id` AS `id`, IS_FREE_LOCK('tandem_k') AS `a`" + roFrom, effNone, "", true},
		{"sleep", "SELECT `fg0`.`id` AS `id`, SLEEP(1) AS `a`" + roFrom, effSleep, "", false},
		{"sleep", roBase + " AND SLEEP(1) = 0", effSleep, "", false},
		{"sleep", "SELECT `fg0`.`id` AS `id`, CASE WHEN `fg0`.`a` IS NULL THEN SLEEP(1) ELSE `fg0`.`a` END AS `a`" + roFrom, effSleep, "", false},
		{"sleep", "SELECT `fg0`.`id` AS `id`, BENCHMARK(1, MD5('a')) AS `a`" + roFrom, effNone, "", false},
		{"sleep", "SELECT `fg0`.`id` AS `id`, MASTER_POS_WAIT('x', 1, 1) AS `a`" + roFrom, effNone, "", false},
		{"file read", "SELECT `fg0`.`id` AS `id`, LOAD_FILE('{S}') AS `a`" + roFrom, effRead, "", false},
		{"file read", "SELECT `fg0`.`id` AS `id`, `load_file`('{S}') AS `a`" + roFrom, effRead, "", false},
		// Variables and assignments.
		{"variable", "SELECT `fg0`.`id` AS `id`, @tandem_v := 1 AS `a`" + roFrom, effNone, "", false},
		{"variable", "SELECT `fg0`.`id` AS `id`, @tandem_v AS `a`" + roFrom, effNone, "", false},
		{"variable", "SELECT `fg0`.`id` AS `id`, @@version AS `a`" + roFrom, effNone, "", false},
		{"variable", "SELECT `fg0`.`id` AS `id`, @@global.secure_file_priv AS `a`" + roFrom, effNone, "", false},
		{"variable", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` := 1 AS `a`" + roFrom, effNone, "", false},
		{"variable", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS `a` FROM `tandem`.`ro_1` AS `fg0` WHERE `fg0`.`id` = @`x`", effNone, "", false},
		// Stored functions, which run with their definer's rights.
		{"stored function", "SELECT `fg0`.`id` AS `id`, `tandem`.`f_write`() AS `a`" + roFrom, effRow, "", true},
		{"stored function", "SELECT `fg0`.`id` AS `id`, tandem.f_write() AS `a`" + roFrom, effRow, "", true},
		{"stored function", "SELECT `fg0`.`id` AS `id`, `tandem` . `f_write` ( ) AS `a`" + roFrom, effRow, "", true},
		{"stored function", "SELECT `fg0`.`id` AS `id`, `tandem`.`f_next`() AS `a`" + roFrom, effSeq, "", true},
		{"stored function", "SELECT `fg0`.`id` AS `id`, `tandem`.`f_lock`() AS `a`" + roFrom, effLock, "", true},
		{"stored function", roBase + " AND `tandem`.`f_write`() = 1", effRow, "", true},
		// INTO: files and variables.
		{"into", roBase + " INTO OUTFILE '{D}/i1'", effFile, "", false},
		{"into", roBase + " INTO DUMPFILE '{D}/i2'", effFile, "", false},
		{"into", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS `a` INTO OUTFILE '{D}/i3'" + roFrom, effFile, "", false},
		{"into", roBase + " INTO @tandem_a, @tandem_b", effNone, "", false},
		{"into", roBase + " INTO OUTFILE '{D}/i4' FIELDS TERMINATED BY ','", effFile, "", false},
		{"into", roBase + " LIMIT 1 INTO OUTFILE '{D}/i5'", effFile, "", false},
		// Locking reads.
		{"locking read", roBase + " FOR UPDATE", effNone, "", false},
		{"locking read", roBase + " FOR UPDATE NOWAIT", effNone, "", false},
		{"locking read", roBase + " FOR UPDATE SKIP LOCKED", effNone, "", false},
		{"locking read", roBase + " FOR UPDATE WAIT 1", effNone, "", false},
		{"locking read", roBase + " LOCK IN SHARE MODE", effNone, "", false},
		{"locking read", roBase + " FOR SHARE", effNone, "", false},
		// Unions and subqueries.
		{"union", roBase + " UNION SELECT 1, 2", effNone, "", true},
		{"union", roBase + " UNION ALL SELECT 1, GET_LOCK('tandem_k', 0)", effLock, "", false},
		{"union", roBase + " UNION SELECT 1, 2 INTO OUTFILE '{D}/u1'", effFile, "", false},
		{"union", roBase + " UNION SELECT 1, `tandem`.`f_write`()", effRow, "", true},
		{"union", roBase + " INTERSECT SELECT 1, 2", effNone, "", true},
		{"union", roBase + " EXCEPT SELECT 1, 2", effNone, "", true},
		{"subquery", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS `a`" + " FROM `tandem`.`ro_1` AS `fg0` WHERE `fg0`.`id` = (SELECT NEXTVAL(`tandem`.`seq`) - NEXTVAL(`tandem`.`seq`) + ?)", effSeq, "", false},
		{"subquery", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS `a`" + " FROM `tandem`.`ro_1` AS `fg0` WHERE `fg0`.`id` IN (SELECT `tandem`.`f_write`() + ?)", effRow, "", true},
		{"subquery", "SELECT `fg0`.`id` AS `id`, (SELECT SLEEP(1)) AS `a`" + roFrom, effSleep, "", false},
		{"subquery", "SELECT `fg0`.`id` AS `id`, `fg0`.`l` AS `a` FROM (SELECT `id`, GET_LOCK('tandem_k', 0) AS `l` FROM `tandem`.`ro_1`) AS `fg0` WHERE `fg0`.`id` = ?", effLock, "", false},
		{"subquery", roBase + " AND (SELECT SLEEP(1)) = 0", effSleep, "", false},
		{"subquery", "WITH `fg0` AS (SELECT `tandem`.`f_write`() AS `id`) SELECT `fg0`.`id` AS `id` FROM `fg0` WHERE `fg0`.`id` = ?", effRow, "", false},
		// Strings: backslash escapes, NO_BACKSLASH_ESCAPES, ANSI_QUOTES.
		{"string escape", "SELECT 'x\\' INTO OUTFILE '{D}/s1' -- '", effFile, "NO_BACKSLASH_ESCAPES", false},
		{"string escape", "SELECT 'x\\'' INTO OUTFILE '{D}/s2' -- '", effNone, "", false},
		{"string escape", "SELECT CASE WHEN `fg0`.`a` IS NULL THEN '\\'' ELSE `fg0`.`a` END AS `a`" + roFrom, effNone, "", false},
		{"string escape", "SELECT CASE WHEN `fg0`.`a` IS NULL THEN 'a\\' ELSE `fg0`.`a` END AS `a`, SLEEP(1) AS `b`" + roFrom + " -- '", effSleep, "NO_BACKSLASH_ESCAPES", false},
		{"string escape", "SELECT CASE WHEN `fg0`.`a` IS NULL THEN \"x\" ELSE `fg0`.`a` END AS `a`" + roFrom, effNone, "", true},
		{"string escape", "SELECT 1 AS \"x\\\" INTO OUTFILE '{D}/s3' -- \"", effFile, "ANSI_QUOTES", false},
		{"string escape", "SELECT CASE WHEN `fg0`.`a` IS NULL THEN 'x ELSE `fg0`.`a` END AS `a`" + roFrom, effNone, "", false},
		{"string escape", "SELECT `fg0`.`id` AS `id`, \"sleep\"(1) AS `a`" + roFrom, effSleep, "ANSI_QUOTES", false},
		{"string escape", "SELECT `fg0`.`id` AS `id`, \"get_lock\" ('tandem_k', 0) AS `a`" + roFrom, effLock, "ANSI_QUOTES", false},
		{"string escape", "SELECT CASE WHEN `fg0`.`a` IS NULL THEN \\N ELSE `fg0`.`a` END AS `a`" + roFrom, effNone, "", false},
		{"string escape", "SELECT CASE WHEN `fg0`.`a` IS NULL THEN 'x' 'y' ELSE `fg0`.`a` END AS `a`" + roFrom, effNone, "", true},
		{"string escape", "SELECT CASE WHEN `fg0`.`a` IS NULL THEN _binary'x' ELSE `fg0`.`a` END AS `a`" + roFrom, effNone, "", true},
		// Backquotes: a doubled backquote is one character of the name.
		{"backquote", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS `x```, SLEEP(1) AS `s`" + roFrom, effSleep, "", false},
		{"backquote", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS `x``, SLEEP(1) AS ``" + roFrom, effNone, "", false},
		{"backquote", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS `a" + roFrom, effNone, "", false},
		{"backquote", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS ``" + roFrom, effNone, "", false},
		{"backquote", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS `a`` FROM `tandem`.`ro_1` AS `fg0` WHERE `fg0`.`id` = ? UNION SELECT 1, SLEEP(1) AS `", effNone, "", true},
		{"backquote", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS `a`" + roFrom + " `", effNone, "", false},
		// Several statements.
		{"statements", roBase + "; SELECT SLEEP(1)", effNone, "", false},
		{"statements", roBase + ";", effNone, "", false},
		{"statements", roBase + "\x00; DELETE FROM `tandem`.`ro_1`", effNone, "", false},
		{"statements", roBase + " \\g SELECT 1", effNone, "", false},
		// Unicode lookalikes and bytes that are not ASCII: an identifier
		// character to MySQL, never a keyword or a space; and under a
		// multi-byte client character set a byte >= 0x80 can take the
		// next quote or backquote into one character.
		{"unicode", "ＳＥＬＥＣＴ `fg0`.`id` AS `id`" + roFrom, effNone, "", false},
		{"unicode", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` АS `a`" + roFrom, effNone, "", false}, // Cyrillic А
		{"unicode", "SELECT\u00a0`fg0`.`id` AS `id`" + roFrom, effNone, "", false},
		{"unicode", "SELECT `fg0`.`id` AS `id`\u200b" + roFrom, effNone, "", false},
		{"unicode", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS `a\u202e`" + roFrom, effNone, "", false},
		{"unicode", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS ｀a｀" + roFrom, effNone, "", false},
		{"unicode", roBase + "；SELECT SLEEP(1)", effNone, "", false},
		{"unicode", "SELECT CASE WHEN `fg0`.`a` IS NULL THEN 'x\xbf' ELSE `fg0`.`a` END AS `a`" + roFrom, effNone, "", false},
		{"unicode", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS `\xad`" + roFrom, effNone, "", false},
		{"unicode", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS `é`" + roFrom, effNone, "", false},
		// Other statements and clauses.
		{"other", "DO SLEEP(1)", effNone, "", false},
		{"other", "SET @tandem_v = 1", effNone, "", false},
		{"other", "CALL `tandem`.`p`()", effNone, "", false},
		{"other", "INSERT INTO `tandem`.`audit` VALUES (1)", effNone, "", false},
		{"other", "DELETE FROM `tandem`.`ro_1`", effNone, "", false},
		{"other", "TABLE `tandem`.`ro_1`", effNone, "", false},
		{"other", "VALUES (1)", effNone, "", false},
		{"other", "HANDLER `tandem`.`ro_1` OPEN", effNone, "", false},
		{"other", "EXPLAIN " + roBase, effNone, "", false},
		{"other", "ANALYZE " + roBase, effNone, "", false},
		{"other", "LOAD DATA INFILE '{S}' INTO TABLE `tandem`.`audit`", effNone, "", false},
		{"other", roBase + " PROCEDURE ANALYSE()", effNone, "", false},
		{"other", roBase + " OR 1 = 1", effNone, "", true},
		{"other", roBase + " ORDER BY SLEEP(1)", effNone, "", false},
		{"other", roBase + " LIMIT 1", effNone, "", true},
		{"other", "SELECT SQL_CALC_FOUND_ROWS `fg0`.`id` AS `id`" + roFrom, effNone, "", true},
		{"other", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS `a` FROM `tandem`.`ro_1` AS `fg0` FORCE INDEX (PRIMARY) WHERE `fg0`.`id` = ?", effNone, "", true},
		{"other", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS `a` FROM `tandem`.`ro_1` AS `fg0` JOIN `tandem`.`audit` AS `fg1` WHERE `fg0`.`id` = ?", effNone, "", true},
		{"other", "SELECT `fg0`.`id` AS `id`, ? AS `a`" + roFrom, effNone, "", true},
		{"other", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS `a` FROM `tandem`.`ro_1` AS `fg0` WHERE `fg0`.`id` = ? COLLATE utf8mb4_bin", effNone, "", true},
		{"other", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS `a` FROM `tandem`.`ro_1` AS `fg0` WHERE `fg0`.`id` IN ((?, SLEEP(1)))", effNone, "", false},
		{"other", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS `a` FROM `tandem`.`ro_1` AS `fg0` WHERE `fg0`.`id` IN (?, ?) UNION SELECT 1, 2", effNone, "", true},
		{"other", "SELECT `fg0`.`id` AS `id`, {fn SLEEP(1)} AS `a`" + roFrom, effNone, "", false},
		{"other", "SELECT `fg0`.`id` AS `id`, `fg0`.`a` AS `a` FROM `tandem`.`ro_1` AS `fg0` WHERE `fg0`.`id` = ? AND `fg0`.`a` = 1 - - 1", effNone, "", true},
	}
	for i := range out {
		out[i].q = r.Replace(out[i].q)
	}
	return out
}

// The corpus needs no server to be refused: both checks, per entry.
func TestCheckRejectsBypassCorpus(t *testing.T) {
	for _, b := range bypassCorpus("/tmp/out") {
		if _, err := checkServing(b.q); !errors.Is(err, ErrInvalidStatement) {
			t.Errorf("%s: the allow-list accepted %q: %v", b.class, b.q, err)
		}
		_, err := checkAnySelect(b.q)
		if b.anyOK && err != nil {
			t.Errorf("%s: AllowAnySelect refused %q: %v (the corpus says only the server stops it)", b.class, b.q, err)
		}
		if !b.anyOK && !errors.Is(err, ErrInvalidStatement) {
			t.Errorf("%s: AllowAnySelect accepted %q: %v", b.class, b.q, err)
		}
	}
}

// roFixture is a MariaDB server with secure_file_priv empty (INTO OUTFILE
// and LOAD_FILE may use any directory), a table, a sequence, stored
// functions that write, and an account with every privilege on the
// database plus FILE: the worst case, so that only Tandem stands between a
// statement and its effect.
type roFixture struct {
	srv     *mariadbtest.Server
	root    *sql.DB // straight to the server, for snapshots
	out     string  // directory the corpus writes files into
	user    *mysql.Config
	selOnly *mysql.Config // an account with SELECT on the database only
}

func startReadOnlyFixture(t *testing.T) *roFixture {
	t.Helper()
	srv := mariadbtest.Start(t, 1, mariadbtest.Options{Args: []string{"--secure-file-priv="}})[0]
	ctx := ctxT(t, 30*time.Second)
	if err := srv.Exec(ctx,
		"CREATE DATABASE tandem", "USE tandem",
		"CREATE TABLE ro_1 (id BIGINT PRIMARY KEY, a INT NULL, b VARCHAR(16))",
		"INSERT INTO ro_1 VALUES (1, NULL, 'x'), (2, 5, 'y')",
		"CREATE TABLE audit (n INT)",
		"CREATE SEQUENCE seq NOCACHE", // every NEXTVAL shows in the table
		"CREATE FUNCTION f_write() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO audit VALUES (1); RETURN 1; END",
		"CREATE FUNCTION f_next() RETURNS INT MODIFIES SQL DATA BEGIN RETURN NEXTVAL(seq); END",
		"CREATE FUNCTION f_lock() RETURNS INT NO SQL BEGIN RETURN GET_LOCK('tandem_k', 0); END",
		"CREATE FUNCTION f_rw() RETURNS INT MODIFIES SQL DATA BEGIN SET SESSION TRANSACTION READ WRITE; RETURN 1; END",
	); err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateUser(ctx, "tandem_rw", "pw", "ALL PRIVILEGES ON tandem.*", "FILE ON *.*"); err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateUser(ctx, "tandem_sel", "pw", "SELECT ON tandem.*"); err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	f := &roFixture{srv: srv, out: filepath.Join(base, "out"), user: srv.UserConfig("tandem_rw", "pw", ""), selOnly: srv.UserConfig("tandem_sel", "pw", "")}
	if err := os.Mkdir(f.out, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "secret.txt"), []byte(roSecret), 0o644); err != nil {
		t.Fatal(err)
	}
	f.root = openPlain(t, srv.MySQLConfig(""))
	return f
}

// openPlain opens a pool that is not read-only and keeps no idle
// connection, so a session's locks and variables end with its use.
func openPlain(t *testing.T, mc *mysql.Config) *sql.DB {
	t.Helper()
	c, err := mysql.NewConnector(mc)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	db.SetMaxIdleConns(0)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// store opens a Store for the account of mc, hedging off.
func (f *roFixture) store(t *testing.T, anySelect bool, mc *mysql.Config) *Store {
	t.Helper()
	cfg := Config{Local: "eu", Regions: []RegionConfig{{ID: "eu", Servers: []ServerConfig{{Name: "eu-1", MySQL: mc}}}}}
	cfg.AllowAnySelect = anySelect
	cfg.Hedge.NoHedge = true
	return newStore(t, cfg)
}

// snapshot is everything a bypass could change.
type snapshot struct {
	files  []string
	rows   string // checksum of tandem.ro_1 and tandem.audit
	seq    int64
	locked bool // someone holds tandem_k
}

func (f *roFixture) snapshot(t *testing.T) snapshot {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	var s snapshot
	ents, err := os.ReadDir(f.out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		s.files = append(s.files, e.Name())
	}
	var holder sql.NullInt64
	err = f.root.QueryRowContext(ctx, `SELECT
		CONCAT((SELECT COUNT(*) FROM tandem.ro_1), '/',
			(SELECT COALESCE(SUM(CRC32(CONCAT_WS(',', id, a, b))), 0) FROM tandem.ro_1), '/',
			(SELECT COUNT(*) FROM tandem.audit)),
		(SELECT next_not_cached_value FROM tandem.seq),
		IS_USED_LOCK('tandem_k')`).Scan(&s.rows, &s.seq, &holder)
	if err != nil {
		t.Fatal(err)
	}
	s.locked = holder.Valid
	return s
}

func (s snapshot) equal(o snapshot) bool {
	return slices.Equal(s.files, o.files) && s.rows == o.rows && s.seq == o.seq && s.locked == o.locked
}

// cleanFiles removes what a control wrote.
func (f *roFixture) cleanFiles(t *testing.T) {
	t.Helper()
	ents, _ := os.ReadDir(f.out)
	for _, e := range ents {
		if err := os.Remove(filepath.Join(f.out, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
}

func placeholders(q string) []any {
	args := make([]any, strings.Count(q, "?"))
	for i := range args {
		args[i] = int64(1)
	}
	return args
}

// TestReadOnlyBypassCorpus runs every entry through the public Store API,
// the path users have, under three sql_modes of the server: each is
// refused with ErrInvalidStatement, and nothing writes a file, changes a
// row or the sequence, keeps a lock, or sleeps.
func TestReadOnlyBypassCorpus(t *testing.T) {
	f := startReadOnlyFixture(t)
	corpus := bypassCorpus(f.out)
	for _, mode := range []string{"", "NO_BACKSLASH_ESCAPES", "ANSI_QUOTES,PIPES_AS_CONCAT"} {
		t.Run("sql_mode="+mode, func(t *testing.T) {
			ctx := ctxT(t, 60*time.Second)
			if _, err := f.root.ExecContext(ctx, "SET GLOBAL sql_mode = CONCAT(@@sql_mode, ',', ?)", mode); mode != "" && err != nil {
				t.Fatal(err)
			}
			defer func() { _, _ = f.root.ExecContext(context.Background(), "SET GLOBAL sql_mode = DEFAULT") }()
			s := f.store(t, false, f.user)
			// The Store works, on a read-only session, under this mode.
			st := mustPrepare(t, s, roBase)
			if res, err := s.Query(ctx, st, []any{int64(2)}); err != nil || len(res.Rows) != 1 || len(res.Rows[0].Values) != 1 {
				t.Fatalf("the base statement: %+v, %v", res, err)
			}
			before := f.snapshot(t)
			for _, b := range corpus {
				start := time.Now()
				st, err := s.Prepare(b.q)
				if err == nil {
					// A regression: run it, so that the snapshot shows
					// what it did.
					_, qerr := s.Query(ctx, st, placeholders(b.q))
					t.Errorf("%s: Prepare accepted %q (Query: %v)", b.class, b.q, qerr)
				} else if !errors.Is(err, ErrInvalidStatement) {
					t.Errorf("%s: Prepare(%q) = %v, want ErrInvalidStatement", b.class, b.q, err)
				}
				if el := time.Since(start); el > 500*time.Millisecond {
					t.Errorf("%s: %q took %v: it slept", b.class, b.q, el)
				}
				if after := f.snapshot(t); !after.equal(before) {
					t.Fatalf("%s: after %q the server changed: %+v, was %+v", b.class, b.q, after, before)
				}
			}
		})
	}
}

// TestBypassCorpusIsReal runs each entry that has an effect on a plain
// session of the same account, without Tandem, and sees the effect: the
// corpus attacks what it says, and the snapshot detects it.
func TestBypassCorpusIsReal(t *testing.T) {
	f := startReadOnlyFixture(t)
	plain := openPlain(t, f.user)
	for _, b := range bypassCorpus(f.out) {
		if b.effect == effNone {
			continue
		}
		ctx := ctxT(t, 20*time.Second)
		before := f.snapshot(t)
		conn, err := plain.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if b.mode != "" {
			if _, err := conn.ExecContext(ctx, "SET SESSION sql_mode = '"+b.mode+"'"); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		var got []string
		rows, err := conn.QueryContext(ctx, b.q, placeholders(b.q)...)
		if err == nil {
			cols, _ := rows.Columns()
			for rows.Next() {
				vals := make([]sql.NullString, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				for _, v := range vals {
					got = append(got, v.String)
				}
			}
			err = errors.Join(rows.Err(), rows.Close())
		}
		el := time.Since(start)
		after := f.snapshot(t) // the session, and any lock it took, is still open
		_ = conn.Close()
		var saw bool
		switch b.effect {
		case effFile:
			saw = len(after.files) > len(before.files)
		case effRow:
			saw = after.rows != before.rows
		case effSeq:
			saw = after.seq != before.seq
		case effLock:
			saw = after.locked && !before.locked
		case effSleep:
			saw = el >= 900*time.Millisecond
		case effRead:
			saw = slices.Contains(got, roSecret)
		}
		if !saw {
			t.Errorf("%s: %q on a plain session did not have its effect %d (err %v, %v, rows %q; before %+v after %+v)", b.class, b.q, b.effect, err, el, got, before, after)
		}
		f.cleanFiles(t)
		waitFor(t, 10*time.Second, "tandem_k released", func() bool { return !f.snapshot(t).locked })
	}
}

// TestReadOnlySecondLayer shows the server's layer on its own, with the
// statement check out of the way: the opt-in check, or no check at all on
// a session made read-only by readOnlyConnector. Row and sequence writes
// are refused with 1792. What a read-only session does not stop is shown
// too, with the privileges that do.
func TestReadOnlySecondLayer(t *testing.T) {
	f := startReadOnlyFixture(t)
	is1792 := func(err error) bool {
		var me *mysql.MySQLError
		return errors.As(err, &me) && me.Number == 1792
	}
	t.Run("opt-in Store", func(t *testing.T) {
		s := f.store(t, true, f.user)
		before := f.snapshot(t)
		for _, b := range bypassCorpus(f.out) {
			if !b.anyOK || (b.effect != effRow && b.effect != effSeq) {
				continue
			}
			st := mustPrepare(t, s, b.q)
			_, err := s.Query(ctxT(t, 10*time.Second), st, placeholders(b.q))
			if !is1792(err) {
				t.Errorf("%s: %q through an opt-in Store: %v, want error 1792", b.class, b.q, err)
			}
		}
		if after := f.snapshot(t); !after.equal(before) {
			t.Fatalf("the server changed: %+v, was %+v", after, before)
		}
	})
	ro := func(t *testing.T, mc *mysql.Config) *sql.DB {
		c, err := mysql.NewConnector(mc)
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(readOnlyConnector(c))
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(0)
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	t.Run("raw read-only session", func(t *testing.T) {
		db := ro(t, f.user)
		before := f.snapshot(t)
		for _, q := range []string{
			"INSERT INTO tandem.audit VALUES (1)",
			"UPDATE tandem.ro_1 SET a = 7",
			"DELETE FROM tandem.ro_1",
			"REPLACE INTO tandem.ro_1 VALUES (1, 1, 'z')",
			"INSERT INTO tandem.audit SELECT 1",
			"SELECT NEXTVAL(tandem.seq)",
			"SELECT NEXT VALUE FOR tandem.seq",
			"SELECT SETVAL(tandem.seq, 1000)",
			"DO NEXTVAL(tandem.seq)",
			"SELECT tandem.f_write()",
			"SELECT tandem.f_next()",
			"DO tandem.f_write()",
			"CREATE TABLE tandem.t2 (a INT)",
			"DROP TABLE tandem.audit",
			"TRUNCATE TABLE tandem.audit",
			"CREATE TEMPORARY TABLE tandem.tt (a INT)", // MySQL 8 would allow it
			"ALTER SEQUENCE tandem.seq RESTART WITH 5",
			"ALTER TABLE tandem.ro_1 ADD COLUMN c INT",
			"RENAME TABLE tandem.audit TO tandem.audit2",
			"CREATE SEQUENCE tandem.seq2",
		} {
			if _, err := db.ExecContext(ctxT(t, 10*time.Second), q); !is1792(err) {
				t.Errorf("%q on a read-only session: %v, want error 1792", q, err)
			}
		}
		if after := f.snapshot(t); !after.equal(before) {
			t.Fatalf("the server changed: %+v, was %+v", after, before)
		}
	})
	t.Run("not covered by READ ONLY: files and stored functions; privileges are", func(t *testing.T) {
		db := ro(t, f.user)
		ctx := ctxT(t, 10*time.Second)
		// A read-only transaction writes files for an account with FILE:
		// which is why the account Tandem uses must not have it.
		if _, err := db.ExecContext(ctx, "SELECT 1 INTO OUTFILE '"+filepath.Join(f.out, "ro")+"'"); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(f.out, "ro")); err != nil {
			t.Fatalf("INTO OUTFILE on a read-only session wrote no file: %v", err)
		}
		f.cleanFiles(t)
		// A stored function may even end the session's read-only mode
		// (MariaDB 10.11): a reason the allow-list admits no call at all,
		// and the account needs no EXECUTE.
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, "DO tandem.f_rw()"); err != nil {
			t.Fatal(err)
		}
		var on int
		if err := conn.QueryRowContext(ctx, "SELECT @@session.tx_read_only").Scan(&on); err != nil || on != 0 {
			t.Errorf("after f_rw: tx_read_only = %d, %v; the package doc says a stored function can end it", on, err)
		}
		_ = conn.Close() // not kept: the pool keeps no idle connection
		// The least-privilege account: SELECT on the database only.
		sel := ro(t, f.selOnly)
		for q, codes := range map[string][]uint16{
			"SELECT 1 INTO OUTFILE '" + filepath.Join(f.out, "sel") + "'": {1227}, // FILE denied
			"SELECT tandem.f_rw()": {1370}, // EXECUTE denied
			// MariaDB opens the function's tables for writing before it
			// checks EXECUTE, so the read-only session answers first.
			"SELECT tandem.f_write()": {1370, 1792},
		} {
			_, err := sel.ExecContext(ctx, q)
			var me *mysql.MySQLError
			if !errors.As(err, &me) || !slices.Contains(codes, me.Number) {
				t.Errorf("%q as a SELECT-only account: %v, want one of errors %v", q, err, codes)
			}
		}
		var content sql.NullString
		if err := sel.QueryRowContext(ctx, "SELECT LOAD_FILE(?)", filepath.Join(filepath.Dir(f.out), "secret.txt")).Scan(&content); err != nil || content.Valid {
			t.Errorf("LOAD_FILE as a SELECT-only account: %q, %v, want NULL", content.String, err)
		}
		if s := f.snapshot(t); len(s.files) != 0 {
			t.Errorf("files written: %v", s.files)
		}
	})
}
