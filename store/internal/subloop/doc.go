// Package subloop is the subscription loop that store/goredis and
// store/redigo share: it keeps one pub/sub connection alive, pings it after
// a silence, replaces it when it fails or stays silent, resubscribes with
// backoff, and delivers a store.Reconnected message before any message of
// the new connection.
//
// A backend implements Conn thinly over its client's pub/sub connection
// (subscribe, receive, ping, close) and keeps its open subscriptions in a
// Set, which its Close closes:
//
//	func (s *Store) Subscribe(ctx context.Context, channels, patterns []string) (store.Subscription, error) {
//		return s.subs.Subscribe(ctx, subloop.Config{
//			Dial:           s.dialPubSub, // returns a subloop.Conn
//			Channels:       channels,
//			Patterns:       patterns,
//			HealthInterval: s.opts.SubscriptionHealthInterval,
//		})
//	}
//
//	func (s *Store) Close() error {
//		s.subs.Close()
//		...
//	}
//
// A Store that tracks its subscriptions itself calls Subscribe with its
// own track and untrack functions instead.
package subloop
