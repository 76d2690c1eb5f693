package tandemtest

import (
	"context"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"sync"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/memory"
	"github.com/dolthub/go-mysql-server/server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
	vtlog "github.com/dolthub/vitess/go/vt/log"
	"github.com/sirupsen/logrus"

	"github.com/tandemfs/tandem/internal/faultproxy"
	"github.com/tandemfs/tandem/region"
)

// onlineStore is one region's online store: an embedded go-mysql-server
// behind a fault proxy, which plays the kill switch and the distance to a
// remote region.
type onlineStore struct {
	id     region.ID
	engine *sqle.Engine
	srv    *server.Server
	done   chan struct{} // closed when srv.Start returns
	proxy  *faultproxy.Proxy
	direct string // the server's own address, behind the proxy

	mu     sync.Mutex
	killed bool
}

var quietOnce sync.Once

// quietGMS silences go-mysql-server, which logs every connection through
// the global logrus logger, and its vitess listener, which logs through
// package variables of its own. Both are globals of those libraries, not of
// the caller's; the standard library's log is left alone.
func quietGMS() {
	quietOnce.Do(func() {
		logrus.SetLevel(logrus.PanicLevel)
		logrus.SetOutput(io.Discard)
		discard := stdlog.New(io.Discard, "", 0)
		vtlog.Info, vtlog.Warning, vtlog.Error = discard.Print, discard.Print, discard.Print
		vtlog.Infof, vtlog.Warningf, vtlog.Errorf = discard.Printf, discard.Printf, discard.Printf
	})
}

// startOnline builds region id's database with the demo rows and starts
// serving it on a loopback port behind a proxy.
func startOnline(id region.ID, acts []activityRow, profs []profileRow) (_ *onlineStore, err error) {
	db := memory.NewDatabase(Database)
	db.EnablePrimaryKeyIndexes()
	pro := memory.NewDBProvider(db)
	ctx := sql.NewContext(context.Background(), sql.WithSession(memory.NewSession(sql.NewBaseSession(), pro)))
	if err := fill(ctx, db, id, acts, profs); err != nil {
		return nil, fmt.Errorf("tandemtest: region %s: fill tables: %w", id, err)
	}

	engine := sqle.NewDefault(pro)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("tandemtest: region %s: listen: %w", id, err)
	}
	srv, err := server.NewServer(server.Config{Protocol: "tcp", Address: ln.Addr().String(), Listener: ln},
		engine, sql.NewContext, memory.NewSessionBuilder(pro), nil)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("tandemtest: region %s: start the MySQL server: %w", id, err)
	}
	o := &onlineStore{id: id, engine: engine, srv: srv, done: make(chan struct{}), direct: ln.Addr().String()}
	go func() {
		defer close(o.done)
		_ = srv.Start() // returns when the listener closes
	}()
	defer func() {
		if err != nil {
			o.close()
		}
	}()
	o.proxy, err = faultproxy.New(ln.Addr().String())
	if err != nil {
		return nil, fmt.Errorf("tandemtest: region %s: %w", id, err)
	}
	return o, nil
}

// fill creates the two feature-group tables of the demo view in db.
func fill(ctx *sql.Context, db *memory.Database, id region.ID, acts []activityRow, profs []profileRow) error {
	varchar8, err := types.CreateString(sqltypes.VarChar, 8, sql.Collation_Default)
	if err != nil {
		return err
	}
	col := func(table, name string, t sql.Type, pk bool) *sql.Column {
		return &sql.Column{Name: name, Type: t, Nullable: !pk, Source: table, PrimaryKey: pk}
	}

	at := activityGroup.Table()
	act := memory.NewTable(db, at, sql.NewPrimaryKeySchema(sql.Schema{
		col(at, "cc_num", types.Int64, true),
		col(at, "tx_count_24h", types.Int64, false),
		col(at, "amount_avg_7d", types.Float64, false),
		col(at, "amount_max_24h", types.Float64, false),
		col(at, "foreign_ratio", types.Float64, false),
		col(at, "replica", varchar8, false),
	}), db.GetForeignKeyCollection())
	db.AddTable(at, act)
	for _, r := range acts {
		if err := act.Insert(ctx, sql.NewRow(r.ccNum, r.txCount, r.amountAvg, r.amountMax, r.foreignRatio, string(id))); err != nil {
			return err
		}
	}

	pt := profileGroup.Table()
	prof := memory.NewTable(db, pt, sql.NewPrimaryKeySchema(sql.Schema{
		col(pt, "cc_num", types.Int64, true),
		col(pt, "age", types.Int64, false),
		col(pt, "credit_limit", types.Float64, false),
		col(pt, "account_age_days", types.Int64, false),
	}), db.GetForeignKeyCollection())
	db.AddTable(pt, prof)
	for _, r := range profs {
		if err := prof.Insert(ctx, sql.NewRow(r.ccNum, r.age, r.creditLimit, r.accountAgeDay)); err != nil {
			return err
		}
	}
	return nil
}

// addr is where clients connect: the proxy, so the kill switch applies.
func (o *onlineStore) addr() string { return o.proxy.Addr() }

// kill makes the region refuse new connections and resets the open ones,
// as a killed process would.
func (o *onlineStore) kill() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.proxy.SetRefuse(true); err != nil {
		return fmt.Errorf("tandemtest: kill region %s: %w", o.id, err)
	}
	o.proxy.ResetAll()
	o.killed = true
	return nil
}

// revive listens again on the same address.
func (o *onlineStore) revive() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.proxy.SetRefuse(false); err != nil {
		return fmt.Errorf("tandemtest: revive region %s: %w", o.id, err)
	}
	o.killed = false
	return nil
}

func (o *onlineStore) isKilled() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.killed
}

// close stops the proxy first (it closes every client connection, so the
// server's connection handlers end), then the server and its engine.
func (o *onlineStore) close() {
	if o.proxy != nil {
		_ = o.proxy.Close()
	}
	_ = o.srv.Close()
	<-o.done
	_ = o.engine.Close()
}
