package codebuild

// String returns a pointer to s, for optional members.
func String(s string) *string { return &s }

// Bool returns a pointer to b.
func Bool(b bool) *bool { return &b }

// Int32 returns a pointer to i.
func Int32(i int32) *int32 { return &i }

// Int64 returns a pointer to i.
func Int64(i int64) *int64 { return &i }

// Deref returns *p, or the zero value when p is nil.
func Deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
