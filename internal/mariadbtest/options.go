package mariadbtest

import (
	"time"

	"github.com/tandemfs/tandem/internal/faultproxy"
)

// Options configure a server. The zero value is a plain server with the
// defaults below.
type Options struct {
	// Proxy puts a faultproxy.Proxy in front of the server; ClientAddr,
	// DSN and MySQLConfig then point at the proxy. Default: false.
	Proxy bool
	// ProxyOptions are passed to faultproxy.New when Proxy is set, e.g.
	// faultproxy.WithSeed for reproducible stalls. Default: none.
	ProxyOptions []faultproxy.Option
	// MaxConnections is mariadbd's --max-connections. Default: 500.
	MaxConnections int
	// ReadyTimeout bounds how long Launch and Restart wait for the first
	// successful driver connection. Default: 20s.
	ReadyTimeout time.Duration
	// Args are extra mariadbd flags, appended after ours (so they win),
	// e.g. "--skip-grant-tables", "--secure-file-priv=" (no limit on the
	// directories of INTO OUTFILE and LOAD_FILE) or "--ssl-cert=…".
	// Default: none.
	Args []string
	// Logf receives one line per lifecycle event (start, kill, restart,
	// stop) with its duration. Default: no logging; Start uses t.Logf.
	Logf func(format string, args ...any)
}

func (o Options) normalize() Options {
	if o.MaxConnections <= 0 {
		o.MaxConnections = 500
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 20 * time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	// Copy the slices: the caller may reuse theirs.
	o.Args = append([]string(nil), o.Args...)
	o.ProxyOptions = append([]faultproxy.Option(nil), o.ProxyOptions...)
	return o
}
