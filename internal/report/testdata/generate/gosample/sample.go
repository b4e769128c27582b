// Package sample is a tiny package whose tests pass, fail and skip, for
// the report fixtures made by ../generate.sh.
package sample

// Add returns a + b.
func Add(a, b int) int { return a + b }

// Div returns a / b, or 0 when b is 0.
func Div(a, b int) int {
	if b == 0 {
		return 0
	}
	return a / b
}
