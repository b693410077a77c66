package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/guestpass/guestpass/pkg/store"
)

// testOrderedSets: members in byte order, cursor paging that sees every
// member once, idempotent adds and removes, the set gone with its last
// member, and the wrong type refused.
func testOrderedSets(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	k := store.Key("t", "zset")
	var want []string
	for i := range 25 {
		want = append(want, fmt.Sprintf("%020d|m%d", 1000-i*7, i))
	}
	want = append(want, "a|b", "a", "a|", "\xff")
	if err := s.ZAdd(ctx, k, want...); err != nil {
		t.Fatal(err)
	}
	if err := s.ZAdd(ctx, k, want[3], want[4]); err != nil { // again: no duplicates
		t.Fatal(err)
	}
	slices.Sort(want)
	var got []string
	after := ""
	for range 20 {
		page, err := s.ZRangeAfter(ctx, k, after, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 4 {
			t.Fatalf("page of %d", len(page))
		}
		got = append(got, page...)
		if len(page) < 4 {
			break
		}
		after = page[len(page)-1]
	}
	if n, err := s.ZCard(ctx, k); err != nil || n != int64(len(want)) {
		t.Fatalf("ZCard = %d, %v; want %d", n, err, len(want))
	}
	if n, err := s.ZCard(ctx, store.Key("t", "nozset")); err != nil || n != 0 {
		t.Fatalf("ZCard of an absent set = %d, %v", n, err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged members:\n%q\nwant\n%q", got, want)
	}
	// A cursor that is not a member starts after where it would sort.
	if page, err := s.ZRangeAfter(ctx, k, "a|a", 2); err != nil || !slices.Equal(page, []string{"a|b", "\xff"}) {
		t.Fatalf("after a non-member: %q, %v", page, err)
	}
	if err := s.ZRem(ctx, k, "a", "not there"); err != nil {
		t.Fatal(err)
	}
	if page, _ := s.ZRangeAfter(ctx, k, "", 100); len(page) != len(want)-1 || slices.Contains(page, "a") {
		t.Fatalf("after ZRem: %q", page)
	}
	if page, err := s.ZRangeAfter(ctx, store.Key("t", "no-zset"), "", 10); err != nil || len(page) != 0 {
		t.Fatalf("absent set: %q, %v", page, err)
	}
	if err := s.ZRem(ctx, k, want...); err != nil {
		t.Fatal(err)
	}
	// Gone with its last member: the key can hold a value again.
	if ok, err := s.SetNX(ctx, k, []byte("v"), 0); err != nil || !ok {
		t.Fatalf("emptied set still there: %v %v", ok, err)
	}
	if err := s.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	v := store.Key("t", "zplain")
	if err := s.Set(ctx, v, []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.ZAdd(ctx, v, "m"); err == nil {
		t.Error("ZAdd on a value: no error")
	}
	if _, err := s.ZRangeAfter(ctx, v, "", 1); err == nil {
		t.Error("ZRangeAfter on a value: no error")
	}
	if err := s.ZAdd(ctx, k, "m"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, k); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get on an ordered set: %v; want a wrong-type error", err)
	}
}
