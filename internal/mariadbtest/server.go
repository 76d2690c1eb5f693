package mariadbtest

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tandemfs/tandem/internal/faultproxy"
)

// ErrStopped is returned by calls on a [Server] after [Server.Stop].
var ErrStopped = errors.New("mariadbtest: server stopped")

// errPortInUse means mariadbd could not bind its port: someone took the
// free port between our probe and its bind. Launch retries with another.
var errPortInUse = errors.New("mariadbtest: port in use")

// stopTimeout bounds a graceful shutdown before we fall back to SIGKILL.
const stopTimeout = 30 * time.Second

// Server is one running (or killed) mariadbd with its own temporary data
// directory and fixed port. Create it with [Launch] or [Start]; the zero
// value is not usable. It is safe for concurrent use. The caller must call
// [Server.Stop] (Start does it in t.Cleanup), which also closes the proxy.
type Server struct {
	opts  Options
	bins  binaries
	dir   string
	port  int
	addr  string
	proxy *faultproxy.Proxy // nil unless Options.Proxy

	stopOnce sync.Once
	stopErr  error

	mu      sync.Mutex // serialises Kill, Restart, Stop
	proc    *process   // nil or exited after Kill
	stopped bool
}

// process is one run of mariadbd.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed after Wait returns
	err  error         // Wait's result, valid after done
}

func (p *process) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Launch starts a MariaDB server on a free loopback port and returns once a
// driver connection succeeds. ctx bounds only the launch, not the server's
// life: call Stop to end it.
func Launch(ctx context.Context, opts Options) (*Server, error) {
	opts = opts.normalize()
	bins, err := findBinaries()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	tdir, err := templateDir(ctx, bins)
	if err != nil {
		return nil, err
	}
	sweepOnce.Do(sweepLeftovers)
	dir, err := os.MkdirTemp("", "mariadbtest-*")
	if err != nil {
		return nil, fmt.Errorf("mariadbtest: %w", err)
	}
	if err := writeOwner(dir); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("mariadbtest: %w", err)
	}
	s := &Server{opts: opts, bins: bins, dir: dir}
	// cp -a keeps ownership and modes, and is ~0.05 s for 38 MB.
	if out, err := exec.CommandContext(ctx, "cp", "-a", filepath.Join(tdir, "data"), filepath.Join(dir, "data")).CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("mariadbtest: copy template datadir: %w: %s", err, bytes.TrimSpace(out))
	}
	const attempts = 5
	for i := 1; ; i++ {
		if s.port, err = freePort(); err == nil {
			s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
			err = s.start(ctx)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, errPortInUse) || i == attempts {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	if opts.Proxy {
		if s.proxy, err = faultproxy.New(s.addr, opts.ProxyOptions...); err != nil {
			_ = s.Stop()
			return nil, fmt.Errorf("mariadbtest: %w", err)
		}
	}
	opts.Logf("mariadbtest: started %s (pid %d, dir %s) in %v", s.addr, s.PID(), dir, time.Since(start).Round(time.Millisecond))
	return s, nil
}

// Addr returns the server's own address (host:port), bypassing any proxy.
func (s *Server) Addr() string { return s.addr }

// Port returns the server's TCP port. It does not change across Restart.
func (s *Server) Port() int { return s.port }

// ClientAddr returns the address clients should dial: the proxy's if
// Options.Proxy was set, else Addr.
func (s *Server) ClientAddr() string {
	if s.proxy != nil {
		return s.proxy.Addr()
	}
	return s.addr
}

// Proxy returns the fault proxy in front of the server, or nil if
// Options.Proxy was not set. The server owns it: Stop closes it.
func (s *Server) Proxy() *faultproxy.Proxy { return s.proxy }

// Dir returns the server's temporary directory (data/, err.log, sock, pid).
func (s *Server) Dir() string { return s.dir }

// MySQLConfig returns a new driver config for root (no password) at
// ClientAddr with database db ("" for none). The caller owns it and should
// set timeouts and pool-relevant options on purpose.
func (s *Server) MySQLConfig(db string) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.User = "root"
	cfg.Net = "tcp"
	cfg.Addr = s.ClientAddr()
	cfg.DBName = db
	return cfg
}

// DSN returns MySQLConfig(db) as a DSN string.
func (s *Server) DSN(db string) string { return s.MySQLConfig(db).FormatDSN() }

// PID returns the pid of the running mariadbd, or 0 if it is not running.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || !s.proc.running() {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// Kill sends SIGKILL (a crash, as in scenario S3) and waits for the process
// to exit. Killing a server that is not running is a no-op. The proxy stays
// up: its new connections are reset until Restart.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrStopped
	}
	if s.proc == nil || !s.proc.running() {
		return nil
	}
	start := time.Now()
	if err := s.proc.cmd.Process.Signal(syscall.SIGKILL); err != nil && s.proc.running() {
		return fmt.Errorf("mariadbtest: kill %s: %w", s.addr, err)
	}
	<-s.proc.done
	s.opts.Logf("mariadbtest: killed %s in %v", s.addr, time.Since(start).Round(time.Millisecond))
	return nil
}

// Restart starts the server again on the same datadir and the same port,
// after crash recovery if it was killed, and returns once it accepts
// connections (~0.2 s). A running server is killed first.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrStopped
	}
	start := time.Now()
	if s.proc != nil && s.proc.running() {
		_ = s.proc.cmd.Process.Signal(syscall.SIGKILL)
		<-s.proc.done
	}
	// The port is not ours while the server is down. A socket in
	// TIME_WAIT is fine (mariadbd sets SO_REUSEADDR), but a client dial
	// can briefly hold it as its ephemeral port, so retry a little.
	var err error
	for i := 0; i < 10; i++ {
		if err = s.startLocked(ctx); !errors.Is(err, errPortInUse) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("mariadbtest: restart %s: %w", s.addr, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err != nil {
		return err
	}
	s.opts.Logf("mariadbtest: restarted %s in %v", s.addr, time.Since(start).Round(time.Millisecond))
	return nil
}

// Stop shuts the server down gracefully (SIGTERM; SIGKILL after 30 s),
// closes the proxy and removes the temporary directory. It is idempotent;
// later calls return the first call's result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.stopped = true
		start := time.Now()
		var errs []error
		if p := s.proc; p != nil && p.running() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			t := time.NewTimer(stopTimeout)
			select {
			case <-p.done:
			case <-t.C:
				_ = p.cmd.Process.Signal(syscall.SIGKILL)
				<-p.done
				errs = append(errs, fmt.Errorf("mariadbtest: %s ignored SIGTERM for %v; killed it", s.addr, stopTimeout))
			}
			t.Stop()
		}
		if s.proxy != nil {
			errs = append(errs, s.proxy.Close())
		}
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("mariadbtest: %w", err))
		}
		s.stopErr = errors.Join(errs...)
		s.opts.Logf("mariadbtest: stopped %s in %v", s.addr, time.Since(start).Round(time.Millisecond))
	})
	return s.stopErr
}

// Exec runs stmts in order on one root connection straight to the server
// (never through the proxy), so "USE db" carries over to later statements.
// It is meant for test setup: CREATE DATABASE/TABLE, INSERT.
func (s *Server) Exec(ctx context.Context, stmts ...string) error {
	s.mu.Lock()
	stopped := s.stopped
	s.mu.Unlock()
	if stopped {
		return ErrStopped
	}
	db := sql.OpenDB(s.rootConnector())
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("mariadbtest: connect to %s: %w", s.addr, err)
	}
	defer conn.Close()
	for i, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("mariadbtest: statement %d (%.80q): %w", i+1, q, err)
		}
	}
	return nil
}

// rootConnector connects straight to the server. Its driver logging is off:
// readiness polling produces expected errors that are noise on stderr.
func (s *Server) rootConnector() *mysqlConnector {
	cfg := mysql.NewConfig()
	cfg.User = "root"
	cfg.Net = "tcp"
	cfg.Addr = s.addr
	cfg.Timeout = time.Second
	cfg.Logger = &mysql.NopLogger{}
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		panic(err) // unreachable: the config is static and valid
	}
	return &mysqlConnector{c}
}

func (s *Server) start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startLocked(ctx)
}

// startLocked runs mariadbd and waits until it accepts a connection.
func (s *Server) startLocked(ctx context.Context) error {
	errLog := filepath.Join(s.dir, "err.log")
	// Read only what this run appends, so an old run's errors do not
	// masquerade as ours.
	var logOff int64
	if fi, err := os.Stat(errLog); err == nil {
		logOff = fi.Size()
	}
	args := []string{
		"--no-defaults", // never read /etc/mysql
		"--user=root",   // required as root; only a warning as anyone else
		"--datadir=" + filepath.Join(s.dir, "data"),
		"--port=" + strconv.Itoa(s.port),
		"--bind-address=127.0.0.1",
		"--socket=" + filepath.Join(s.dir, "sock"),
		"--pid-file=" + filepath.Join(s.dir, "pid"),
		"--log-error=" + errLog,
		"--skip-log-bin",
		"--skip-name-resolve",
		"--innodb-buffer-pool-size=64M",
		"--innodb-log-file-size=8M",
		// 2, not 0: write the redo log at each commit but never fsync.
		// A SIGKILLed mariadbd (scenario S3) then keeps every committed
		// row, because the OS still has the writes; with 0 the last
		// second of commits lives only in mariadbd's memory and a
		// kill right after setup lost all rows in our tests. No fsync
		// keeps latency the network's, not the disk's.
		"--innodb-flush-log-at-trx-commit=2",
		"--innodb-doublewrite=0",
		"--skip-performance-schema",
		"--max-connections=" + strconv.Itoa(s.opts.MaxConnections),
	}
	cmd := exec.Command(s.bins.mariadbd, append(args, s.opts.Args...)...)
	cmd.SysProcAttr = sysProcAttr()
	cmd.Dir = s.dir
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("mariadbtest: start %s: %w", s.bins.mariadbd, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.proc = p

	if err := s.waitReady(ctx, p); err != nil {
		if p.running() {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
		log := readFrom(errLog, logOff)
		if bytes.Contains(log, []byte("Address already in use")) {
			return fmt.Errorf("%w: %d", errPortInUse, s.port)
		}
		return fmt.Errorf("mariadbtest: %s not ready: %w\n--- tail of %s ---\n%s", s.addr, err, errLog, tail(log, 20))
	}
	return nil
}

// waitReady polls with real driver connections until one succeeds, the
// process exits, ReadyTimeout passes or ctx ends.
func (s *Server) waitReady(ctx context.Context, p *process) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.ReadyTimeout)
	defer cancel()
	conn := s.rootConnector()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = conn.ping(ctx); last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("mariadbd exited: %v", p.err)
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// mysqlConnector adds a one-shot ping to the driver's connector.
type mysqlConnector struct{ driver.Connector }

func (c *mysqlConnector) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	conn, err := c.Connect(ctx)
	if err != nil {
		return err
	}
	return conn.Close()
}

// freePort asks the kernel for a free loopback port. mariadbd binds it a
// moment later; if someone takes it meanwhile, Launch retries.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("mariadbtest: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// readFrom returns the file's contents from off (nil if unreadable).
func readFrom(path string, off int64) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil
	}
	b, _ := io.ReadAll(f)
	return b
}

// CreateUser creates the account 'name'@'%' with password and grants it
// each of privileges, e.g. "SELECT ON feat.*" or "FILE ON *.*" (GRANT
// <privilege> TO the account), on a root connection straight to the server.
// name must be a plain word and password must not contain quotes or
// backslashes: this is test setup, not a quoting library. Connect as the
// account with [Server.UserConfig].
func (s *Server) CreateUser(ctx context.Context, name, password string, privileges ...string) error {
	if !plainWord(name) {
		return fmt.Errorf("mariadbtest: user name %q must be made of letters, digits and _", name)
	}
	for _, c := range password {
		if c == '\'' || c == '"' || c == '\\' || c < ' ' {
			return errors.New("mariadbtest: the password must not contain quotes, backslashes or control characters")
		}
	}
	account := "'" + name + "'@'%'"
	stmts := []string{"CREATE USER " + account + " IDENTIFIED BY '" + password + "'"}
	for _, p := range privileges {
		stmts = append(stmts, "GRANT "+p+" TO "+account)
	}
	return s.Exec(ctx, stmts...)
}

// UserConfig is [Server.MySQLConfig] for another account, e.g. one made by
// [Server.CreateUser].
func (s *Server) UserConfig(user, password, db string) *mysql.Config {
	cfg := s.MySQLConfig(db)
	cfg.User, cfg.Passwd = user, password
	return cfg
}

func plainWord(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			return false
		}
	}
	return true
}
