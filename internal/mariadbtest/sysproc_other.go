//go:build !linux

package mariadbtest

import "syscall"

// sysProcAttr: only Linux has a parent-death signal; elsewhere a server
// whose test process is SIGKILLed is orphaned and must be killed by hand.
func sysProcAttr() *syscall.SysProcAttr { return nil }

const pdeathsig = false
