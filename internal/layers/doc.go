// Package layers holds no code: its test enforces the import rules of
// docs/architecture.md (which internal package may import which, and
// that pure packages do no I/O).
package layers
