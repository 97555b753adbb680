//go:build !linux

package backup

import (
	"errors"
	"syscall"
)

// setDeathSignal is Linux only.
func setDeathSignal(*syscall.SysProcAttr) {}

// groupRunning tells whether a process of group pgid is left.
func groupRunning(pgid int) bool {
	return !errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
}

// watchClosed is not available here: every file is hashed once the dump
// is done.
func watchClosed(string, func(string)) (func(), error) {
	return nil, errors.New("no inotify")
}
