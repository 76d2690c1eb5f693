//go:build linux

package mariadbtest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const childEnv = "MARIADBTEST_ORPHAN_CHILD"

// TestServerDiesWithLauncher SIGKILLs a process that launched a server and
// checks that the server dies too and that the next launcher sweeps its
// datadir. The child is this test binary re-run in child mode.
func TestServerDiesWithLauncher(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		s, err := Launch(context.Background(), Options{})
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Printf("READY %d %s\n", s.PID(), s.Dir())
		time.Sleep(30 * time.Second) // the parent kills us long before
		os.Exit(2)
	}
	if err := Available(); err != nil {
		if mustFail(os.Getenv) {
			t.Fatal(err)
		}
		t.Skip(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestServerDiesWithLauncher$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "READY ") || strings.HasPrefix(l, "ERR ") {
				lines <- l
				break
			}
		}
		close(lines)
		for sc.Scan() { // drain so the child never blocks on stdout
		}
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(30 * time.Second):
		t.Fatal("child did not launch a server in 30 s")
	}
	var pid int
	var dir string
	if _, err := fmt.Sscanf(line, "READY %d %s", &pid, &dir); err != nil {
		t.Fatalf("child said %q", line)
	}
	if filepath.Dir(dir) != filepath.Clean(os.TempDir()) {
		t.Fatalf("child dir %q not in %q", dir, os.TempDir())
	}
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGKILL) // only if the test failed
		_ = os.RemoveAll(dir)
	})

	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for processExists(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("mariadbd %d still alive 5 s after its launcher died", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The sweep skips dirs touched in the last second.
	old := time.Now().Add(-time.Minute)
	if err := os.Chtimes(dir, old, old); err != nil {
		t.Fatal(err)
	}
	sweepLeftovers()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("leftover %s not swept: %v", dir, err)
	}
}
