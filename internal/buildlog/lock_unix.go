//go:build unix

package buildlog

import (
	"os"
	"syscall"
	"time"
)

// lockWriter takes an exclusive flock on a log being written. Readers
// hold a shared one for an instant (lockedByWriter), so it tries a little
// while; if another writer holds it, it goes on without: that one's lock
// keeps the log open to readers.
func lockWriter(f *os.File) {
	fd := int(f.Fd())
	for i := 0; i < 100; i++ {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil || err != syscall.EWOULDBLOCK && err != syscall.EINTR {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// lockedByWriter reports whether a writer holds the log open f is.
func lockedByWriter(f *os.File) bool {
	fd := int(f.Fd())
	for {
		err := syscall.Flock(fd, syscall.LOCK_SH|syscall.LOCK_NB)
		switch err {
		case nil:
			syscall.Flock(fd, syscall.LOCK_UN)
			return false
		case syscall.EINTR:
			continue
		case syscall.EWOULDBLOCK:
			return true
		default: // no locks here (some network filesystems)
			return false
		}
	}
}
