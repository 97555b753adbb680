package backup

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

// setDeathSignal has the kernel kill the program when this process dies.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }

// groupRunning tells whether a process of group pgid is alive and not a
// zombie waiting to be reaped (a killed pg_dump's workers are reparented
// to init, which may reap them late).
func groupRunning(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parens.
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		if f[0] != "Z" && f[0] != "X" {
			return true
		}
	}
	return false
}

// watchClosed calls fn with the name of every file of dir (not of its
// subfolders) that is closed after being written, until stop is called.
// It is a head start for hashing only: callers must not rely on seeing
// every file.
func watchClosed(dir string, fn func(name string)) (stop func(), err error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_CLOSE_WRITE); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	// A non-blocking descriptor goes through the runtime's poller, so
	// Close wakes a pending Read.
	f := os.NewFile(uintptr(fd), "inotify")
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return // closed by stop, or broken: Finish hashes the rest
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
				nameLen := int(ev.Len)
				start := off + syscall.SizeofInotifyEvent
				off = start + nameLen
				if ev.Mask&syscall.IN_CLOSE_WRITE == 0 || nameLen == 0 || off > n {
					continue
				}
				name := buf[start:off]
				for len(name) > 0 && name[len(name)-1] == 0 {
					name = name[:len(name)-1]
				}
				fn(string(name))
			}
		}
	})
	return func() {
		f.Close()
		wg.Wait()
	}, nil
}
