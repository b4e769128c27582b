package store

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"
)

func TestCheckFull(t *testing.T) {
	tests := []struct {
		err  error
		full bool
	}{
		{nil, false},
		{errors.New("not found"), false},
		{&fs.PathError{Op: "write", Path: "/d/x", Err: syscall.ENOSPC}, true},
		{errors.New("database or disk is full (13)"), true},
		{fmt.Errorf("commit: %w", errors.New("ERROR: could not extend file \"base/1/2\": No space left on device (SQLSTATE 53100)")), true},
		{&FullError{Err: errors.New("x")}, true},
	}
	for _, tt := range tests {
		err := CheckFull(tt.err)
		var fe *FullError
		if got := errors.As(err, &fe); got != tt.full {
			t.Errorf("CheckFull(%v) full = %v, want %v", tt.err, got, tt.full)
		}
		if tt.err != nil && !errors.Is(err, tt.err) {
			t.Errorf("CheckFull(%v) lost the error", tt.err)
		}
	}
}
