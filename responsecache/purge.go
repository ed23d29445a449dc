package responsecache

import (
	"context"
	"crypto/tls"
	_ "embed"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/rediware/rediware/store"
)

var (
	//go:embed incr.lua
	incrLua    string
	incrScript = store.NewScript(incrLua)
)

// ErrBadPurge is returned for a purge request the cache cannot act on,
// such as a relative URL.
var ErrBadPurge = errors.New("responsecache: bad purge request")

// purgeBatch is how many keys one purge step pops and unlinks.
const purgeBatch = 256

// PurgeURL removes the stored responses for an absolute URL (all its Vary
// variants), on every instance. Keys added by a Route's key functions are
// not covered: use PurgePrefix for those.
func (c *Cache) PurgeURL(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: want an absolute http(s) URL, got %q", ErrBadPurge, rawURL)
	}
	if err := c.bumpEpoch(ctx); err != nil {
		return err
	}
	r := &http.Request{URL: u, Host: u.Host}
	if u.Scheme == "https" {
		r.TLS = tlsMarker
	}
	return c.deleteKeys(ctx, c.headKey(c.primaryKey(r, nil)))
}

// PurgePrefix removes every stored response whose URL starts with prefix
// (an absolute URL such as "https://example.com/blog/"), walking the
// keyspace with SCAN in batches. URLs longer than 1 KiB are stored under a
// hash and are not found by a prefix.
func (c *Cache) PurgePrefix(ctx context.Context, prefix string) error {
	if !strings.HasPrefix(prefix, "http://") && !strings.HasPrefix(prefix, "https://") {
		return fmt.Errorf("%w: prefix must start with http:// or https://, got %q", ErrBadPurge, prefix)
	}
	if err := c.bumpEpoch(ctx); err != nil {
		return err
	}
	scheme, rest, _ := strings.Cut(prefix, "://")
	host, path, _ := strings.Cut(rest, "/")
	p := scheme + "://" + asciiLower(host)
	if path != "" || strings.Contains(rest, "/") {
		p += "/" + path
	}
	head := c.ks.Key(p) // "{rc:<prefix>}"
	pattern := store.EscapeGlob(head[:len(head)-1]) + "*"
	return c.s.Scan(ctx, pattern, purgeBatch, func(keys []string) error {
		return c.deleteKeys(ctx, keys...)
	})
}

// PurgeTag removes every stored response tagged with tag, in batches of
// SPOP and UNLINK (never SMEMBERS or KEYS). The purge epoch is bumped
// first, so a response being stored concurrently under the tag is dropped
// by its writer rather than surviving the purge.
func (c *Cache) PurgeTag(ctx context.Context, tag string) error {
	if tag == "" {
		return fmt.Errorf("%w: empty tag", ErrBadPurge)
	}
	if err := c.bumpEpoch(ctx); err != nil {
		return err
	}
	key := c.tagKey(tag)
	for {
		v, err := c.s.Eval(ctx, tagPopScript, []string{key}, purgeBatch)
		if err != nil {
			return err
		}
		members, err := store.Slice(v, 0)
		if err != nil || len(members) == 0 {
			return err
		}
		keys := make([]string, 0, len(members))
		for _, m := range members {
			if s, ok := m.(string); ok {
				keys = append(keys, s)
			}
		}
		if err := c.deleteKeys(ctx, keys...); err != nil {
			return err
		}
	}
}

func (c *Cache) bumpEpoch(ctx context.Context) error {
	_, err := c.s.Eval(ctx, incrScript, []string{c.epochKey()})
	return err
}

// tlsMarker makes requestScheme report https for a purge URL.
var tlsMarker = &tls.ConnectionState{}
