package mariadbtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// installArgs initialise a small datadir (38 MB rather than 114 MB, because
// of the 8 MB redo log) where root has no password over TCP.
func installArgs() []string {
	args := []string{
		"--no-defaults",
		"--auth-root-authentication-method=normal",
		"--skip-test-db",
		"--skip-name-resolve",
		"--innodb-log-file-size=8M",
	}
	// As root, mariadbd refuses to run without --user=root. As anyone
	// else, mariadb-install-db --user=root fails trying to chown the
	// datadir to root (checked as nobody), so leave it out.
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	return args
}

// templateFormat changes when installArgs or the layout change, so old
// cached templates are not reused.
const templateFormat = "v1"

// The template is made once per process. Only success is cached (not a
// sync.Once), so a launch whose ctx expired during init does not poison
// later launches.
var tmpl struct {
	mu  sync.Mutex
	dir string // contains data/
}

// templateDir returns a directory whose data/ subdirectory is a freshly
// initialised, stopped datadir, to be copied (never used) by servers.
//
// It lives in the user cache directory, keyed by the mariadbd binary and
// installArgs, so `go test` runs of several packages, and repeated runs, pay
// the ~0.7 s init once per machine and do not leave 38 MB per process in
// /tmp. If the cache directory is unusable we fall back to os.TempDir.
func templateDir(ctx context.Context, bins binaries) (string, error) {
	tmpl.mu.Lock()
	defer tmpl.mu.Unlock()
	if tmpl.dir != "" {
		return tmpl.dir, nil
	}
	root, err := cacheRoot()
	if err != nil {
		root = os.TempDir()
	}
	key, err := templateKey(bins)
	if err != nil {
		return "", err
	}
	final := filepath.Join(root, "tmpl-"+key)
	if isDatadir(final) {
		tmpl.dir = final
		return final, nil
	}

	// Init into a private directory and rename: concurrent test processes
	// race to publish, and a reader never sees a half-made template.
	work, err := os.MkdirTemp(root, "tmpl-init-*")
	if err != nil {
		return "", fmt.Errorf("mariadbtest: template: %w", err)
	}
	defer os.RemoveAll(work) // a no-op once renamed
	args := append([]string{"--datadir=" + filepath.Join(work, "data")}, installArgs()...)
	// --basedir tells the script where the share/ files are when
	// mariadbd is not in the default location.
	cmd := exec.CommandContext(ctx, bins.installDB, append(args, "--basedir="+basedir(bins.mariadbd))...)
	cmd.SysProcAttr = sysProcAttr()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("mariadbtest: %s failed: %w\n%s", bins.installDB, err, tail(out.Bytes(), 20))
	}
	if err := os.Rename(work, final); err != nil {
		if !isDatadir(final) { // losing the race is fine; anything else is not
			return "", fmt.Errorf("mariadbtest: template: %w", err)
		}
	}
	tmpl.dir = final
	return final, nil
}

func cacheRoot() (string, error) {
	c, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	root := filepath.Join(c, "tandem-mariadbtest")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	return root, nil
}

// templateKey identifies the binary by path, size and mtime: cheaper than
// running `mariadbd --version`, and an upgrade changes all three.
func templateKey(bins binaries) (string, error) {
	fi, err := os.Stat(bins.mariadbd)
	if err != nil {
		return "", fmt.Errorf("mariadbtest: %w", err)
	}
	h := sha256.New()
	fmt.Fprintln(h, templateFormat, bins.mariadbd, fi.Size(), fi.ModTime().UnixNano(), strings.Join(installArgs(), " "))
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// isDatadir reports whether dir/data holds an initialised system database.
// mysql.global_priv is the account table since MariaDB 10.4; mysql.user is
// its (view or table) twin on every version.
func isDatadir(dir string) bool {
	for _, f := range []string{"global_priv.frm", "user.frm"} {
		if fi, err := os.Stat(filepath.Join(dir, "data", "mysql", f)); err == nil && fi.Mode().IsRegular() {
			return true
		}
	}
	return false
}

// basedir maps /usr/sbin/mariadbd to /usr.
func basedir(mariadbd string) string {
	return filepath.Dir(filepath.Dir(mariadbd))
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
