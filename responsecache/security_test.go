package responsecache_test

import (
	"testing"
	"time"

	"github.com/rediware/rediware/responsecache"
)

func TestSecurity_malformed_private_directive_is_still_private(t *testing.T) {
	for _, cc := range []string{"private; max-age=600", "no-store;", "public, no-store ;x", `private x`} {
		t.Run(cc, func(t *testing.T) {
			s, _ := miniStore(t)
			c := responsecache.New(s, responsecache.Options{DefaultTTL: time.Minute})
			o := &origin{}
			o.set(respond(200, "alice's page", "Cache-Control", cc))
			h := c.Handler(o)
			send(h, "GET", "http://example.com/me")
			send(h, "GET", "http://example.com/me")
			if o.count() != 2 {
				t.Fatalf("Cache-Control %q: the response was stored and served again", cc)
			}
		})
	}
}
