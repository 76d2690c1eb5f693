package mariadbtest_test

import (
	"context"
	"database/sql"
	"log"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tandemfs/tandem/internal/mariadbtest"
)

// The benchmark harness launches two regions, makes us 20 ms away and
// crashes eu. It has no "Output:" line, so go test compiles it but does not
// run it (it needs MariaDB installed).
func Example() {
	ctx := context.Background()
	eu, err := mariadbtest.Launch(ctx, mariadbtest.Options{Proxy: true})
	if err != nil {
		log.Fatal(err)
	}
	defer eu.Stop()
	us, err := mariadbtest.Launch(ctx, mariadbtest.Options{Proxy: true})
	if err != nil {
		log.Fatal(err)
	}
	defer us.Stop()
	us.Proxy().SetLatency(20 * time.Millisecond)

	if err := eu.Exec(ctx, "CREATE DATABASE feat", "USE feat",
		"CREATE TABLE fg1 (id BIGINT PRIMARY KEY, f1 DOUBLE)"); err != nil {
		log.Fatal(err)
	}
	conn, err := mysql.NewConnector(eu.MySQLConfig("feat")) // via the proxy
	if err != nil {
		log.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()

	_ = eu.Kill()                                   // S3: crash under load...
	_ = eu.Restart(ctx)                             // ...and back on the same port
	eu.Proxy().SetStall(0.02, 100*time.Millisecond) // S2
}
