package middleware

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
)

// Problem is an RFC 9457 problem details object. The zero value describes a
// 500 Internal Server Error.
//
// Detail is sent to the client as is: put only what the client may see in it,
// never the text of an internal error.
type Problem struct {
	// Type is a URI reference identifying the problem type. Default
	// "about:blank", meaning the problem is just the HTTP status.
	Type string

	// Title is a short, human-readable summary of the problem type. Default
	// http.StatusText(Status).
	Title string

	// Status is the HTTP status code. Default (also for values outside
	// 200-999, since a 1xx is not a final response) 500.
	Status int

	// Detail is a human-readable explanation of this occurrence. Omitted when
	// empty.
	Detail string

	// Instance is a URI reference identifying this occurrence. Omitted when
	// empty.
	Instance string

	// Extensions holds additional members, such as "retry_after" or
	// "errors". Keys that collide with the members above are ignored.
	// Members are written in key order, so the output is deterministic.
	Extensions map[string]any
}

// problemJSON fixes the order and omission rules of the standard members.
type problemJSON struct {
	Type     string `json:"type"`
	Title    string `json:"title,omitempty"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
}

// withDefaults returns p with the documented defaults applied.
func (p Problem) withDefaults() Problem {
	if p.Status < 200 || p.Status > 999 {
		p.Status = http.StatusInternalServerError
	}
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	return p
}

// MarshalJSON encodes p as an RFC 9457 JSON object, with the defaults applied
// and Extensions merged in as top-level members. It fails only if an
// extension value cannot be encoded.
func (p Problem) MarshalJSON() ([]byte, error) {
	p = p.withDefaults()
	b, err := json.Marshal(problemJSON{p.Type, p.Title, p.Status, p.Detail, p.Instance})
	if err != nil || len(p.Extensions) == 0 {
		return b, err
	}
	keys := make([]string, 0, len(p.Extensions))
	for k := range p.Extensions {
		switch k {
		case "type", "title", "status", "detail", "instance":
		default:
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	b = b[:len(b)-1] // drop '}'
	for _, k := range keys {
		kb, _ := json.Marshal(k) // a string always encodes
		vb, err := json.Marshal(p.Extensions[k])
		if err != nil {
			return nil, fmt.Errorf("middleware: problem extension %q: %w", k, err)
		}
		b = append(b, ',')
		b = append(b, kb...)
		b = append(b, ':')
		b = append(b, vb...)
	}
	return append(b, '}'), nil
}

// WriteProblem writes p as the response: the status, Content-Type
// application/problem+json, X-Content-Type-Options: nosniff and the JSON body.
// Defaults are applied as documented on [Problem]. A stale Content-Length set
// earlier is removed. If an extension cannot be encoded, the problem is sent
// without its extensions rather than not at all.
//
// Call WriteProblem before anything else is written to w: once the header has
// been sent, the status and headers can no longer change.
func WriteProblem(w http.ResponseWriter, p Problem) {
	p = p.withDefaults()
	body, err := p.MarshalJSON()
	if err != nil {
		p.Extensions = nil
		body, _ = p.MarshalJSON() // cannot fail without extensions
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}
