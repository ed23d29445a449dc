package tiered

import "testing"

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true},
		{"user:*", "user:42", true},
		{"user:*", "user/a/b", false},
		{"user*", "user/a/b", true},
		{"u?er", "user", true},
		{"u?er", "uer", false},
		{"[abc]x", "bx", true},
		{"[^abc]x", "bx", false},
		{"[a-c]x", "cx", true},
		{"[c-a]x", "bx", true},
		{`a\*b`, "a*b", true},
		{`a\*b`, "axb", false},
		{"*:42", "user:42", true},
		{"*:42", "user:421", false},
		{"a*b*c", "aXXbYYc", true},
	} {
		if got := globMatch(tc.p, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.p, tc.s, got, tc.want)
		}
	}
}
