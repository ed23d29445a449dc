// Package subloop is the subscription loop that store/goredis and
// store/redigo share: it keeps one pub/sub connection alive, pings it after
// a silence, replaces it when it fails or stays silent, resubscribes with
// backoff, and delivers a store.Reconnected message before any message of
// the new connection.
//
// A backend implements Conn thinly over its client's pub/sub connection and
// hands a Dial function to New:
//
//	l := subloop.New(subloop.Config{
//		Dial:           func(ctx context.Context) (subloop.Conn, error) { ... },
//		Channels:       channels,
//		Patterns:       patterns,
//		HealthInterval: opts.SubscriptionHealthInterval,
//		OnClose:        func() { s.untrack(sub) },
//	})
//	if err := l.Start(ctx); err != nil {
//		return nil, err
//	}
//	return l, nil // a store.Subscription
package subloop
