package bytesize

import "testing"

func TestParseAndFormat(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"0", 0, false},
		{"1048576", 1 << 20, false},
		{"64KiB", 64 << 10, false},
		{"1GiB", 1 << 30, false},
		{"5 GB", 5 << 30, false},
		{"2g", 2 << 30, false},
		{"1TiB", 1 << 40, false},
		{"", 0, true},
		{"-1", 0, true},
		{"1.5GiB", 0, true},
		{"12XB", 0, true},
		{"99999999999TiB", 0, true},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("Parse(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
		if err == nil {
			if back, err := Parse(Format(got)); err != nil || back != got {
				t.Errorf("Parse(Format(%d)) = %d, %v", got, back, err)
			}
		}
	}
	if f := Format(1 << 30); f != "1GiB" {
		t.Errorf("Format(1<<30) = %s", f)
	}
	if f := Format(1000); f != "1000" {
		t.Errorf("Format(1000) = %s", f)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"1GiB", "64KiB", "10", "5 GB", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err == nil && n < 0 {
			t.Fatalf("Parse(%q) = %d", s, n)
		}
	})
}
