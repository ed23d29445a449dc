package store_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/goredis"
)

func TestKeyspace_Key_layout(t *testing.T) {
	for _, tc := range []struct {
		prefix, id string
		parts      []string
		want       string
	}{
		{"rl", "user42", []string{"tokens"}, "{rl:user42}:tokens"},
		{"rl", "user42", nil, "{rl:user42}"},
		{"", "a", []string{"b", "c"}, "{a}:b:c"},
		{"p", "a{b}", nil, "{p:a%7Bb%7D}"},
		{"p", "100%", nil, "{p:100%25}"},
		{"p{x}", "id", nil, "{p%7Bx%7D:id}"},
		{"p", "id", []string{"{not-a-tag}"}, "{p:id}:{not-a-tag}"},
	} {
		if got := (store.Keyspace{Prefix: tc.prefix}).Key(tc.id, tc.parts...); got != tc.want {
			t.Errorf("Keyspace{%q}.Key(%q, %q) = %q, want %q", tc.prefix, tc.id, tc.parts, got, tc.want)
		}
	}
}

func TestKeyspace_Key_is_injective_for_ids(t *testing.T) {
	ks := store.Keyspace{Prefix: "p"}
	ids := []string{"a{b}", "a(b)", "a%7Bb%7D", "a%257Bb", "{", "}", "%", "%7B", "%7D", "%25", ""}
	seen := map[string]string{}
	for _, id := range ids {
		k := ks.Key(id)
		if other, ok := seen[k]; ok {
			t.Fatalf("ids %q and %q share key %q", other, id, k)
		}
		seen[k] = id
	}
}

func TestKeyspace_Key_parts_share_the_slot(t *testing.T) {
	ks := store.Keyspace{Prefix: "lock"}
	for _, id := range []string{"x", "a{b}", "}{", strings.Repeat("z", 500)} {
		base := store.Slot(ks.Key(id))
		for _, part := range []string{"owner", "fence", "{evil}"} {
			if got := store.Slot(ks.Key(id, part)); got != base {
				t.Errorf("Key(%q, %q) is in slot %d, Key(%q) in %d", id, part, got, id, base)
			}
		}
	}
}

func TestSlot_matches_the_cluster_specification(t *testing.T) {
	// Values from the Redis Cluster specification and CLUSTER KEYSLOT.
	for key, want := range map[string]int{
		"123456789":            12739,
		"foo":                  12182,
		"{user1000}.following": store.Slot("user1000"),
		"foo{}{bar}":           store.Slot("foo{}{bar}"),
		"{}x":                  store.Slot("{}x"),
	} {
		if got := store.Slot(key); got != want {
			t.Errorf("Slot(%q) = %d, want %d", key, got, want)
		}
	}
	if store.Slot("{user1000}.following") != store.Slot("{user1000}.followers") {
		t.Error("keys with one hash tag are in different slots")
	}
}

func TestCheckKey(t *testing.T) {
	if err := store.CheckKey("", 0); !errors.Is(err, store.ErrInvalidKey) {
		t.Errorf("empty key: %v", err)
	}
	if err := store.CheckKey(strings.Repeat("k", store.DefaultMaxKeyLen+1), 0); !errors.Is(err, store.ErrInvalidKey) {
		t.Errorf("long key: %v", err)
	}
	if err := store.CheckKey(strings.Repeat("k", 10), 5); !errors.Is(err, store.ErrInvalidKey) {
		t.Errorf("key over a custom limit: %v", err)
	}
	if err := store.CheckKey("\x00\xff binary", 0); err != nil {
		t.Errorf("binary key: %v", err)
	}
}

func TestEscapeGlob_matches_itself_only(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain:prefix", "plain:prefix"},
		{`a*b?c[d]e\f`, `a\*b\?c\[d\]e\\f`},
		{"", ""},
	} {
		if got := store.EscapeGlob(tc.in); got != tc.want {
			t.Errorf("EscapeGlob(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestEscapeGlob_in_a_Scan_pattern(t *testing.T) {
	m := miniredis.RunT(t)
	s := goredis.New(redis.NewClient(&redis.Options{Addr: m.Addr()}))
	ctx := t.Context()
	for _, k := range []string{"p[1]*:a", "p[1]*:b", "p1x:c", "p[1]x:d"} {
		if err := s.Set(ctx, k, []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	err := s.Scan(ctx, store.EscapeGlob("p[1]*:")+"*", 10, func(keys []string) error {
		got = append(got, keys...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"p[1]*:a", "p[1]*:b"}) {
		t.Fatalf("Scan(EscapeGlob(prefix)+*) = %q, want only the two keys with the literal prefix", got)
	}
}
