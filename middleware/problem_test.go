package middleware_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rediware/rediware/middleware"
)

func TestWriteProblem_headers_and_status(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Length", "9999") // stale, from an earlier attempt
	middleware.WriteProblem(rec, middleware.Problem{Status: http.StatusTooManyRequests})
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", rec.Code)
	}
	for k, want := range map[string]string{
		"Content-Type":           "application/problem+json",
		"X-Content-Type-Options": "nosniff",
		"Content-Length":         "",
	} {
		if got := rec.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestWriteProblem_defaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   middleware.Problem
		want string
		code int
	}{
		{"zero value is 500", middleware.Problem{},
			`{"type":"about:blank","title":"Internal Server Error","status":500}`, 500},
		{"title from status", middleware.Problem{Status: 404},
			`{"type":"about:blank","title":"Not Found","status":404}`, 404},
		{"1xx is not final", middleware.Problem{Status: 103},
			`{"type":"about:blank","title":"Internal Server Error","status":500}`, 500},
		{"out of range", middleware.Problem{Status: 1000},
			`{"type":"about:blank","title":"Internal Server Error","status":500}`, 500},
		{"unknown code has no title", middleware.Problem{Status: 599},
			`{"type":"about:blank","status":599}`, 599},
		{"all members", middleware.Problem{Type: "https://example.com/probs/out-of-credit", Title: "Out of credit",
			Status: 403, Detail: "Your balance is 30.", Instance: "/account/12345/msgs/abc"},
			`{"type":"https://example.com/probs/out-of-credit","title":"Out of credit","status":403,"detail":"Your balance is 30.","instance":"/account/12345/msgs/abc"}`, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			middleware.WriteProblem(rec, tc.in)
			if rec.Code != tc.code || rec.Body.String() != tc.want {
				t.Fatalf("got %d %s\nwant %d %s", rec.Code, rec.Body.String(), tc.code, tc.want)
			}
		})
	}
}

func TestWriteProblem_extensions_sorted_and_reserved_ignored(t *testing.T) {
	rec := httptest.NewRecorder()
	middleware.WriteProblem(rec, middleware.Problem{Status: 429, Extensions: map[string]any{
		"retry_after": 3, "limit": 10, "status": 200, "type": "evil", "a<b": "x&y",
	}})
	want := `{"type":"about:blank","title":"Too Many Requests","status":429,"a\u003cb":"x\u0026y","limit":10,"retry_after":3}`
	if rec.Body.String() != want {
		t.Fatalf("body %s\nwant %s", rec.Body.String(), want)
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
}

func TestWriteProblem_unencodable_extension_is_dropped(t *testing.T) {
	rec := httptest.NewRecorder()
	middleware.WriteProblem(rec, middleware.Problem{Status: 400, Detail: "bad", Extensions: map[string]any{"ch": make(chan int)}})
	want := `{"type":"about:blank","title":"Bad Request","status":400,"detail":"bad"}`
	if rec.Code != 400 || rec.Body.String() != want {
		t.Fatalf("got %d %s", rec.Code, rec.Body.String())
	}
}

func TestProblem_MarshalJSON_reports_unencodable_extension(t *testing.T) {
	_, err := json.Marshal(middleware.Problem{Extensions: map[string]any{"ch": make(chan int)}})
	var uerr *json.UnsupportedTypeError
	if !errors.As(err, &uerr) || !strings.Contains(err.Error(), `"ch"`) {
		t.Fatalf("error = %v, want an UnsupportedTypeError naming the key", err)
	}
}

func TestProblem_MarshalJSON_round_trips(t *testing.T) {
	in := middleware.Problem{Status: 409, Detail: "version \"3\" is stale", Extensions: map[string]any{"current": "4"}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Type, Title, Detail, Current string
		Status                       int
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Type != "about:blank" || out.Title != "Conflict" || out.Status != 409 || out.Detail != in.Detail || out.Current != "4" {
		t.Fatalf("decoded %+v from %s", out, b)
	}
}
