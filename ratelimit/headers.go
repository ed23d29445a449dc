package ratelimit

import (
	"strconv"
	"time"
)

// appendSFString appends s as a Structured Field sf-string (RFC 9651):
// quoted, with '"' and '\' escaped. Policy names hold visible ASCII only.
func appendSFString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}

// seconds rounds d up to whole seconds, never below zero.
func seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// policyHeader builds the RateLimit-Policy value: one list item per policy,
// `"name";q=<rate>;w=<period in seconds, rounded up, at least 1>`.
func policyHeader(limits []Limit) string {
	var b []byte
	for i, l := range limits {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendSFString(b, l.Name)
		b = append(b, ";q="...)
		b = strconv.AppendInt(b, int64(l.Rate), 10)
		b = append(b, ";w="...)
		b = strconv.AppendInt(b, max(seconds(l.Period), 1), 10)
	}
	return string(b)
}

// appendRateLimit appends the RateLimit value: one item per policy,
// `"name";r=<remaining>;t=<seconds>`. t is the time until the policy is back
// to full quota, except for a policy that refused the request, whose t is
// the time until it would admit it (so that Retry-After is never earlier
// than the t of a denying policy).
func appendRateLimit(b []byte, res *Result) []byte {
	for i := range res.Policies {
		p := &res.Policies[i]
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendSFString(b, p.Limit.Name)
		b = append(b, ";r="...)
		b = strconv.AppendInt(b, int64(p.Remaining), 10)
		b = append(b, ";t="...)
		t := p.ResetAfter
		if !res.Allowed && !p.Allowed && p.RetryAfter != Never {
			t = p.RetryAfter
		}
		b = strconv.AppendInt(b, seconds(t), 10)
	}
	return b
}
