package client

import (
	"errors"
	"strconv"
	"testing"

	"github.com/capy-oss/capy/internal/api"
)

// A listing ends at a nil cursor; a cursor that repeats (a loop of any
// length), an empty cursor or an endless run of new ones is refused.
func TestCollectPages(t *testing.T) {
	ptr := func(s string) *string { return &s }
	pages := func(cursors ...*string) func(string) (*api.List[int], error) {
		i := 0
		return func(string) (*api.List[int], error) {
			if i >= len(cursors) {
				return &api.List[int]{Items: []int{i}, NextCursor: ptr("more" + strconv.Itoa(i))}, nil
			}
			c := cursors[i]
			i++
			return &api.List[int]{Items: []int{i}, NextCursor: c}, nil
		}
	}
	got, err := Collect(pages(ptr("a"), ptr("b"), nil))
	if err != nil || len(got) != 3 {
		t.Fatalf("honest listing: %v %v", got, err)
	}
	for name, f := range map[string]func(string) (*api.List[int], error){
		"same cursor twice":   pages(ptr("a"), ptr("a")),
		"a loop of two":       pages(ptr("a"), ptr("b"), ptr("a")),
		"an empty cursor":     pages(ptr("")),
		"never-ending cursor": pages(), // a new cursor on every page
	} {
		if _, err := Collect(f); !errors.Is(err, ErrPagination) {
			t.Errorf("%s: %v, want ErrPagination", name, err)
		}
	}
}
