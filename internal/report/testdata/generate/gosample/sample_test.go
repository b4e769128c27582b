package sample

import "testing"

func TestAdd(t *testing.T) {
	if got := Add(2, 3); got != 5 {
		t.Fatalf("Add(2, 3) = %d, want 5", got)
	}
}

func TestAddLogs(t *testing.T) {
	t.Log("a passing test's log line")
}

func TestDivWrong(t *testing.T) {
	// Fails on purpose.
	if got := Div(7, 2); got != 4 {
		t.Errorf("Div(7, 2) = %d, want 4 (<rounding> & such)", got)
	}
}

func TestSkipped(t *testing.T) {
	t.Skip("needs a database")
}

func TestDivTable(t *testing.T) {
	for _, tc := range []struct {
		name       string
		a, b, want int
	}{
		{"exact", 6, 3, 2},
		{"by_zero", 1, 0, 0},
		{"wrong", 1, 3, 1}, // fails on purpose
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Div(tc.a, tc.b); got != tc.want {
				t.Errorf("Div(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestSubtestSkipped(t *testing.T) {
	t.Run("runs", func(t *testing.T) {})
	t.Run("skips", func(t *testing.T) { t.Skip("not today") })
}
