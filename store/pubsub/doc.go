// Package pubsub has typed publish/subscribe helpers over store.Store,
// aware of reconnects.
//
//	type OrderShipped struct{ OrderID, UserID int }
//
//	_, err := pubsub.Publish(ctx, s, "orders:shipped", OrderShipped{OrderID: 7, UserID: 42})
//
//	sub, err := pubsub.Subscribe[OrderShipped](ctx, s, []string{"orders:shipped"}, []string{"user:*:notify"},
//		pubsub.Options[OrderShipped]{OnReconnect: func() { log.Print("missed messages; resyncing") }})
//	defer sub.Close()
//	for m := range sub.Messages() {
//		switch {
//		case m.Reconnected: // messages may have been lost: resync
//		case m.Err != nil:  // a payload that is not an OrderShipped
//		default:
//			notify(m.Value.UserID, m.Value.OrderID)
//		}
//	}
//
// Redis pub/sub is at-most-once: a message published while a subscriber is
// disconnected is lost for it. The store's subscription reconnects by
// itself; this package surfaces each reconnect, in the message stream and
// through Options.OnReconnect, so that a subscriber holding state derived
// from messages (a local cache, a counter) can rebuild it. For delivery
// that must not be lost, use a stream (see store/writebehind).
//
// Payloads are JSON by default (any cache.Codec can be used); a payload
// that does not decode is delivered with Err set rather than dropped.
package pubsub
