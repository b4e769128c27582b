package shard

import (
	"fmt"
	"reflect"
	"testing"
)

func TestEqualDistribution(t *testing.T) {
	files := []string{"e", "a", "c", "b", "d", "a"}
	var got [][]string
	for i := 0; i < 3; i++ {
		s, err := Select(files, i, 3, EqualDistribution)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	want := [][]string{{"a", "b"}, {"c", "d"}, {"e"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("shards = %v, want %v", got, want)
	}
	if s, _ := Select([]string{"a"}, 2, 3, ""); len(s) != 0 {
		t.Errorf("empty shard = %v", s)
	}
}

func TestStabilityCoversEveryFileOnce(t *testing.T) {
	var files []string
	for i := 0; i < 200; i++ {
		files = append(files, fmt.Sprintf("test/file%03d_test.js", i))
	}
	seen := map[string]int{}
	for i := 0; i < 7; i++ {
		s, err := Select(files, i, 7, Stability)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) == 0 {
			t.Errorf("shard %d is empty", i)
		}
		for _, f := range s {
			seen[f]++
		}
	}
	for _, f := range files {
		if seen[f] != 1 {
			t.Errorf("%s in %d shards", f, seen[f])
		}
	}
	// Adding a file moves no other file.
	before, _ := Select(files, 3, 7, Stability)
	after, _ := Select(append(files, "test/new_test.js"), 3, 7, Stability)
	for _, f := range before {
		found := false
		for _, g := range after {
			found = found || f == g
		}
		if !found {
			t.Errorf("%s moved off shard 3", f)
		}
	}
}

func TestSelectErrors(t *testing.T) {
	for _, c := range []struct {
		i, n int
		s    string
	}{{3, 3, ""}, {0, 0, ""}, {0, 1, "random"}} {
		if _, err := Select([]string{"a"}, c.i, c.n, c.s); err == nil {
			t.Errorf("Select(%d, %d, %q) succeeded", c.i, c.n, c.s)
		}
	}
}
