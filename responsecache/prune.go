package responsecache

import (
	"context"
	_ "embed"
	"errors"
	"sync"

	"github.com/rediware/rediware/store"
)

var (
	//go:embed tagsample.lua
	tagSampleLua    string
	tagSampleScript = store.NewScript(tagSampleLua)
	//go:embed tagrem.lua
	tagRemLua    string
	tagRemScript = store.NewScript(tagRemLua)
)

const (
	// pruneAbove is the tag set size from which stores sample the set for
	// members whose entry has expired.
	pruneAbove = 1024
	// pruneSample is how many members one prune round checks.
	pruneSample = 128
)

// pruning holds the tags being pruned, so one tag is pruned by one
// goroutine at a time.
var pruning sync.Map

// maybePrune starts a background prune of tag when its set has grown
// large: a sample of members is checked and those whose entry is gone
// are removed. Tag sets also expire as a whole, with their longest-lived
// member, so pruning only matters for tags that are stored continuously.
func (c *Cache) maybePrune(ctx context.Context, tag string, card int64) {
	if card < pruneAbove || card%pruneSample != 0 {
		return
	}
	key := c.tagKey(tag)
	if _, busy := pruning.LoadOrStore(key, struct{}{}); busy {
		return
	}
	go func() {
		defer pruning.Delete(key)
		_ = c.pruneTag(context.WithoutCancel(ctx), key)
	}()
}

// pruneTag removes from the tag set at key a sample of members whose
// entries no longer exist.
func (c *Cache) pruneTag(ctx context.Context, key string) error {
	v, err := c.s.Eval(ctx, tagSampleScript, []string{key}, pruneSample)
	if err != nil {
		return err
	}
	members, err := store.Slice(v, 0)
	if err != nil {
		return err
	}
	var dead []any
	for _, m := range members {
		k, ok := m.(string)
		if !ok {
			continue
		}
		_, found, err := c.s.TTL(ctx, k)
		if err != nil {
			if errors.Is(err, store.ErrInvalidKey) {
				dead = append(dead, k)
				continue
			}
			return err
		}
		if !found {
			dead = append(dead, k)
		}
	}
	if len(dead) == 0 {
		return nil
	}
	_, err = c.s.Eval(ctx, tagRemScript, []string{key}, dead...)
	return err
}
