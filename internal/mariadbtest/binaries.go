package mariadbtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// binaries are the MariaDB programs we run.
type binaries struct {
	mariadbd  string
	installDB string
}

// Debian/Ubuntu put mariadbd in /usr/sbin, which is often not in a non-root
// PATH; the others cover Homebrew-style and tarball installs.
var (
	serverDirs  = []string{"/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"}
	installDirs = []string{"/usr/bin", "/usr/local/bin", "/usr/sbin", "/opt/homebrew/bin"}
)

// Available reports whether mariadbd and mariadb-install-db can be found, in
// PATH or in the usual system directories. A nil error means Launch can try.
func Available() error {
	_, err := findBinaries()
	return err
}

func findBinaries() (binaries, error) {
	d, err1 := lookBinary("mariadbd", serverDirs)
	i, err2 := lookBinary("mariadb-install-db", installDirs)
	if err := errors.Join(err1, err2); err != nil {
		return binaries{}, fmt.Errorf("mariadbtest: MariaDB is not installed (on Debian/Ubuntu: apt-get install mariadb-server): %w", err)
	}
	return binaries{mariadbd: d, installDB: i}, nil
}

func lookBinary(name string, dirs []string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH or %v", name, dirs)
}
