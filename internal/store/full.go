package store

import (
	"errors"
	"strings"
	"syscall"
)

// FullError is a write the store refused because its disk (or the
// database server's) is full. Reads still work; writes succeed again once
// there is room. It says so to API callers as an unavailable service (see
// Unavailable), not as an internal failure.
type FullError struct{ Err error }

func (e *FullError) Error() string {
	return "the store cannot write: its disk is full (" + e.Err.Error() + ")"
}

func (e *FullError) Unwrap() error { return e.Err }

// Unavailable marks the error as one that ends when the service has room
// again (see awsjson).
func (e *FullError) Unavailable() bool { return true }

// CheckFull wraps err in a *FullError if it says that a disk is full:
// ENOSPC, SQLite's SQLITE_FULL ("database or disk is full") or
// PostgreSQL's disk_full (SQLSTATE 53100) and "could not extend file".
func CheckFull(err error) error {
	if err == nil {
		return nil
	}
	var fe *FullError
	if errors.As(err, &fe) {
		return err
	}
	if errors.Is(err, syscall.ENOSPC) {
		return &FullError{Err: err}
	}
	msg := err.Error()
	for _, s := range []string{"database or disk is full", "SQLITE_FULL", "no space left on device", "SQLSTATE 53100", "could not extend file"} {
		if strings.Contains(msg, s) {
			return &FullError{Err: err}
		}
	}
	return err
}
