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
