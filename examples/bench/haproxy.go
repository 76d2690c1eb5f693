package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// haproxyBin is Debian's HAProxy 2.6 (apt-get install haproxy).
func haproxyBin() (string, error) {
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/haproxy", "/usr/local/sbin/haproxy"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("haproxy is not installed (apt-get install haproxy)")
}

// The two HAProxy configurations of issue 7: the recommended one and an
// aggressive one. Both use mysql-check, so a hung mysqld is noticed too.
var haproxyModes = []struct {
	name   string // contender name
	server string // default-server timing
}{
	{"haproxy", "inter 1s fall 2 rise 1"},
	{"haproxy-fast", "inter 200ms fastinter 100ms downinter 500ms fall 2 rise 1"},
}

// haproxy is one HAProxy process with a listener per mode and topology:
// "<mode>" fronts eu-1 (primary) and us-1 (backup); "<mode>-s7" fronts
// eu-1 and eu-2 (primaries) and us-1 and us-2 (backups) for S7.
type haproxy struct {
	dir   string
	cmd   *exec.Cmd
	done  chan struct{}
	sock  string
	binds map[string]string // listener name → address
}

func startHAProxy(ctx context.Context, c *cluster, logf func(string, ...any)) (*haproxy, error) {
	bin, err := haproxyBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "bench-haproxy-*")
	if err != nil {
		return nil, err
	}
	h := &haproxy{dir: dir, sock: filepath.Join(dir, "admin.sock"), binds: map[string]string{}, done: make(chan struct{})}
	var b strings.Builder
	fmt.Fprintf(&b, `global
    maxconn 4000
    stats socket %s mode 600 level admin

defaults
    mode tcp
    timeout connect 200ms
    timeout client 1h
    timeout server 1h
    retries 2
`, h.sock)
	topos := []struct {
		suffix  string
		primary []string
		backup  []string
	}{
		{"", []string{"eu-1"}, []string{"us-1"}},
		{"-s7", []string{"eu-1", "eu-2"}, []string{"us-1", "us-2"}},
	}
	for _, m := range haproxyModes {
		for _, t := range topos {
			if c.byName[t.primary[len(t.primary)-1]] == nil {
				continue // S7 servers not launched
			}
			port, err := freePort()
			if err != nil {
				_ = os.RemoveAll(dir)
				return nil, err
			}
			name := m.name + t.suffix
			h.binds[name] = fmt.Sprintf("127.0.0.1:%d", port)
			fmt.Fprintf(&b, "\nlisten %s\n    bind %s\n    option mysql-check user haproxy post-41\n", name, h.binds[name])
			if len(t.backup) > 1 {
				b.WriteString("    option allbackups\n")
			}
			fmt.Fprintf(&b, "    default-server %s on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions\n", m.server)
			for _, s := range t.primary {
				fmt.Fprintf(&b, "    server %s %s check\n", s, c.byName[s].addr())
			}
			for _, s := range t.backup {
				fmt.Fprintf(&b, "    server %s %s check backup\n", s, c.byName[s].addr())
			}
		}
	}
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, bin, "-c", "-f", cfg).CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("haproxy -c: %w: %s", err, strings.TrimSpace(string(out)))
	}
	logFile, err := os.Create(filepath.Join(dir, "haproxy.log"))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	h.cmd = exec.Command(bin, "-f", cfg, "-db")
	h.cmd.Stdout, h.cmd.Stderr = logFile, logFile
	// Its own process group, so a Ctrl-C reaches only us (we stop it),
	// and SIGKILL if we die without stopping it.
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := h.cmd.Start(); err != nil {
		logFile.Close()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start haproxy: %w", err)
	}
	go func() { _ = h.cmd.Wait(); logFile.Close(); close(h.done) }()
	// Ready once every server is UP.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := h.waitUp(ctx, time.Until(deadline)); err == nil {
			break
		} else if time.Now().After(deadline) || ctx.Err() != nil {
			h.stop()
			return nil, fmt.Errorf("haproxy not ready: %w", err)
		}
	}
	logf("haproxy %s: pid %d, listeners %v", bin, h.cmd.Process.Pid, h.binds)
	return h, nil
}

// status returns each "listener/server" status (UP, DOWN, "UP 1/2"...).
func (h *haproxy) status() (map[string]string, error) {
	conn, err := net.DialTimeout("unix", h.sock, time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("show stat\n")); err != nil {
		return nil, err
	}
	r := csv.NewReader(bufio.NewReader(conn))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	col := 17 // "status" in HAProxy's CSV
	for _, rec := range recs {
		if len(rec) > 0 && strings.HasPrefix(rec[0], "# ") {
			for i, f := range rec {
				if f == "status" {
					col = i
				}
			}
			continue
		}
		if len(rec) > col && rec[1] != "FRONTEND" && rec[1] != "BACKEND" {
			out[rec[0]+"/"+rec[1]] = rec[col]
		}
	}
	return out, nil
}

// waitUp waits until every server of every listener is UP.
func (h *haproxy) waitUp(ctx context.Context, bound time.Duration) error {
	deadline := time.Now().Add(bound)
	var last error
	for {
		st, err := h.status()
		if err == nil {
			last = nil
			for k, v := range st {
				if v != "UP" {
					last = fmt.Errorf("%s is %s", k, v)
					break
				}
			}
			if last == nil && len(st) > 0 {
				return nil
			}
		} else {
			last = err
		}
		if time.Now().After(deadline) {
			return last
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-h.done:
			return errors.New("haproxy exited; see " + filepath.Join(h.dir, "haproxy.log"))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop stops HAProxy (SIGTERM, then SIGKILL) and removes its directory.
func (h *haproxy) stop() {
	if h == nil || h.cmd == nil || h.cmd.Process == nil {
		return
	}
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(3 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.done
	}
	_ = os.RemoveAll(h.dir)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
