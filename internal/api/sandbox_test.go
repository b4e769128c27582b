package api

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/buildbatch/buildbatch/internal/awsjson"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/store"
)

func TestListPage(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var list []*store.Resource
	for i := range 5 {
		// Two share a creation time: the name orders them.
		list = append(list, &store.Resource{Name: fmt.Sprintf("p:%d", i), Created: t0.Add(time.Duration(i/2*2) * time.Second)})
	}
	walk := func(order string) []string {
		var got []string
		var next *string
		for range 10 {
			page, tok, err := listPage(append([]*store.Resource(nil), list...), "l", cb.String(order), next, cb.Int32(2))
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, names(page)...)
			if tok == nil {
				return got
			}
			next = tok
		}
		t.Fatal("no end")
		return nil
	}
	if got := fmt.Sprint(walk(cb.SortOrderTypeAscending)); got != "[p:0 p:1 p:2 p:3 p:4]" {
		t.Errorf("ascending: %s", got)
	}
	if got := fmt.Sprint(walk(cb.SortOrderTypeDescending)); got != "[p:4 p:3 p:2 p:1 p:0]" {
		t.Errorf("descending: %s", got)
	}
	// A token of another listing (or order) is refused.
	_, tok, _ := listPage(list, "l", nil, nil, cb.Int32(1))
	_, _, err := listPage(list, "other", nil, tok, nil)
	var ae *awsjson.Error
	if !errors.As(err, &ae) || ae.Type != awsjson.InvalidInput {
		t.Errorf("foreign token: %v", err)
	}
	_, _, err = listPage(list, "l", cb.String(cb.SortOrderTypeAscending), tok, nil)
	if !errors.As(err, &ae) || ae.Type != awsjson.InvalidInput {
		t.Errorf("token of the other order: %v", err)
	}
}
