//go:build linux

package mariadbtest

import "syscall"

// sysProcAttr makes a server die with the process that started it.
//
// Pdeathsig fires when the thread that forked exits, not the process; the Go
// runtime only ends threads of goroutines that exit while locked with
// runtime.LockOSThread, which this package never does (golang/go#27505).
// Setpgid keeps the server out of the terminal's process group, so Ctrl-C
// reaches only `go test`, whose death then kills the server via Pdeathsig,
// instead of racing our own Stop with a SIGINT to mariadbd.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// pdeathsig: servers die with their launcher, so leftovers can be swept.
const pdeathsig = true
