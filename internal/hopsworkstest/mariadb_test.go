package hopsworkstest

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tandemfs/tandem/internal/mariadbtest"
)

// TestStatementsRunOnMariaDB proves the generated SQL runs on the tables a
// test creates: database = project in lower case, table = {fg}_{version}.
// The batch form's "IN ?" is expanded to a bound tuple list, as callers do.
func TestStatementsRunOnMariaDB(t *testing.T) {
	srv := mariadbtest.Start(t, 1, mariadbtest.Options{})[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Exec(ctx,
		"CREATE DATABASE tandem",
		"CREATE TABLE tandem.accounts_1 (aid BIGINT PRIMARY KEY, balance DOUBLE, region_id BIGINT)",
		"CREATE TABLE tandem.regions_3 (rid BIGINT, cc VARCHAR(8), tax DOUBLE, PRIMARY KEY (rid, cc))",
		"INSERT INTO tandem.accounts_1 VALUES (1, 10.5, 7), (2, 20, 8), (3, 30, 7)",
		"INSERT INTO tandem.regions_3 VALUES (7, 'SE', 0.25), (8, 'US', 0.1), (7, 'NO', 0.3)",
	); err != nil {
		t.Fatal(err)
	}
	mcfg := srv.MySQLConfig("")
	mcfg.Timeout = 5 * time.Second
	conn, err := mysql.NewConnector(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()

	single, err := Statements("Tandem", twoFGView(), false)
	if err != nil {
		t.Fatal(err)
	}
	var aid, region int64
	var balance float64
	if err := db.QueryRowContext(ctx, single[0].QueryOnline, 3).Scan(&aid, &balance, &region); err != nil || aid != 3 || balance != 30 || region != 7 {
		t.Fatalf("single 0: %v %d %v %d", err, aid, balance, region)
	}
	var rid int64
	var cc string
	var tax float64
	if err := db.QueryRowContext(ctx, single[1].QueryOnline, 7, "NO").Scan(&rid, &cc, &tax); err != nil || tax != 0.3 {
		t.Fatalf("single 1: %v %v", err, tax)
	}

	batch, err := Statements("Tandem", twoFGView(), true)
	if err != nil {
		t.Fatal(err)
	}
	// Single-key batch: IN ? -> IN (?, ?, ?); 99 is missing.
	q := strings.Replace(batch[0].QueryOnline, "IN ?", "IN (?, ?, ?)", 1)
	rows, err := db.QueryContext(ctx, q, 1, 2, 99)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Close(); err != nil || n != 2 {
		t.Fatalf("batch 0: %v rows %d", err, n)
	}
	// Composite batch: IN ? -> IN ((?, ?), (?, ?)), the key columns come back.
	q = strings.Replace(batch[1].QueryOnline, "IN ?", "IN ((?, ?), (?, ?))", 1)
	rows, err = db.QueryContext(ctx, q, 7, "SE", 8, "XX")
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	if strings.Join(cols, ",") != "r_rid,r_cc,r_tax" {
		t.Fatalf("columns %v", cols)
	}
	n = 0
	for rows.Next() {
		if err := rows.Scan(&rid, &cc, &tax); err != nil {
			t.Fatal(err)
		}
		if rid != 7 || cc != "SE" {
			t.Fatalf("row %d %s", rid, cc)
		}
		n++
	}
	if err := rows.Close(); err != nil || n != 1 {
		t.Fatalf("batch 1: %v rows %d", err, n)
	}
}

// TestHelperAndLabelStatementsRunOnMariaDB: the statements without labels,
// the inference-helper form, and the batch statement of a group that only
// gives a label (its keys under the prefix alias) run on real tables.
func TestHelperAndLabelStatementsRunOnMariaDB(t *testing.T) {
	srv := mariadbtest.Start(t, 1, mariadbtest.Options{})[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Exec(ctx,
		"CREATE DATABASE myproject",
		"CREATE TABLE myproject.accounts_1 (aid BIGINT PRIMARY KEY, balance DOUBLE, region_id BIGINT)",
		"CREATE TABLE myproject.regions_3 (rid BIGINT, cc VARCHAR(8), tax DOUBLE, PRIMARY KEY (rid, cc))",
		"INSERT INTO myproject.accounts_1 VALUES (1, 10.5, 7), (2, 20, 8)",
		"INSERT INTO myproject.regions_3 VALUES (7, 'SE', 0.25), (8, 'US', 0.1)",
	); err != nil {
		t.Fatal(err)
	}
	conn, err := mysql.NewConnector(srv.MySQLConfig(""))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	v := twoFGView()
	v.Features = []ViewFeatureDef{
		{Name: "balance"}, {Name: "region_id", InferenceHelperColumn: true},
		{FeatureGroupFeatureName: "tax", Join: 1, Label: true},
	}
	columns := func(q string, args ...any) []string {
		t.Helper()
		rows, err := db.QueryContext(ctx, q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		n := 0
		for rows.Next() {
			n++
		}
		if n == 0 {
			t.Fatalf("%s: no rows", q)
		}
		return cols
	}
	single, _ := StatementsFor("MyProject", v, StatementOptions{})
	if len(single) != 1 || strings.Join(columns(single[0].QueryOnline, 1), ",") != "balance" {
		t.Fatalf("single %+v", single)
	}
	helpers, _ := StatementsFor("MyProject", v, StatementOptions{InferenceHelperColumns: true})
	if len(helpers) != 1 || strings.Join(columns(helpers[0].QueryOnline, 2), ",") != "region_id" {
		t.Fatalf("helpers %+v", helpers)
	}
	batch, _ := StatementsFor("MyProject", v, StatementOptions{Batch: true})
	q := strings.Replace(batch[1].QueryOnline, "IN ?", "IN ((?, ?))", 1)
	if got := strings.Join(columns(q, 7, "SE"), ","); len(batch) != 2 || got != "r_rid,r_cc" {
		t.Fatalf("label-only batch: %s", got)
	}
}
