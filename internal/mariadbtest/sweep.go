package mariadbtest

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ownerFile in each server's temp dir names the pid of the process that
// launched it, so a later process can tell a leftover from a live server.
const ownerFile = "owner.pid"

var sweepOnce sync.Once

// writeOwner records the launching process in dir.
func writeOwner(dir string) error {
	return os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644)
}

// sweepLeftovers removes server dirs whose launching process is gone. A
// test binary that times out or is SIGKILLed never runs t.Cleanup; on Linux
// PR_SET_DEATHSIG has killed its servers, but each 38 MB datadir would stay
// in /tmp for good. Only dirs with an owner file are touched, and only if
// that pid no longer exists (a reused pid makes us keep the dir: the safe
// mistake). Elsewhere than Linux the server may outlive its owner, so we
// do not sweep there.
func sweepLeftovers() {
	if !pdeathsig {
		return
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "mariadbtest-*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue // not ours, or still being set up
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || pid == os.Getpid() || processExists(pid) {
			continue
		}
		// Let a dying server's last writes land before removing.
		if fi, err := os.Stat(d); err == nil && time.Since(fi.ModTime()) < time.Second {
			continue
		}
		_ = os.RemoveAll(d)
	}
}

// processExists reports whether pid is a live (non-zombie) process. A
// zombie counts as gone: in containers whose init does not reap, a dead
// test binary can linger as one forever.
func processExists(pid int) bool {
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
		// The state follows the parenthesised command name, which may
		// itself contain spaces or parentheses.
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) {
			return b[i+2] != 'Z' && b[i+2] != 'X'
		}
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
