package redigo_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/rediware/rediware/internal/redistest"
	"github.com/rediware/rediware/store"
	"github.com/rediware/rediware/store/redigo"
)

// Open's read_timeout bounds a call whose context allows more.
func TestOpen_read_timeout_caps_a_later_deadline(t *testing.T) {
	srv := redistest.Start(t)
	s, err := redigo.Open(srv.URL()+"?read_timeout=200ms", redigo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	defer srv.Resume()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	err = s.Ping(ctx)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Ping on a paused server: %v, want ErrUnavailable", err)
	}
	if el := time.Since(start); el > 200*time.Millisecond+2*time.Second {
		t.Fatalf("Ping returned after %v; read_timeout is 200ms", el)
	}
}

func TestOpen_password_and_database(t *testing.T) {
	srv := redistest.Start(t, redistest.WithPassword("s3cret"))
	s, err := redigo.Open(strings.TrimSuffix(srv.URL(), "/0")+"/3", redigo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Set(t.Context(), "k", []byte("db3"), 0); err != nil {
		t.Fatalf("Set with the URL's password: %v", err)
	}
	d, err := redigo.Open(srv.URL(), redigo.Options{}) // database 0
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, found, err := d.Get(t.Context(), "k"); err != nil || found {
		t.Fatalf("Get in database 0 = %v, %v; want the key only in database 3", found, err)
	}

	bad, err := redigo.Open("redis://:wrong@"+srv.Addr(), redigo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	err = bad.Ping(t.Context())
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Ping with a wrong password: %v, want an error without the password", err)
	}
}

func TestOpen_urls(t *testing.T) {
	m := miniredis.RunT(t)
	m.RequireUserAuth("u", "pw")
	s, err := redigo.Open("redis://u:pw@"+m.Addr()+"/0?dial_timeout=1s&read_timeout=2s&pool_size=4&client_name=t", redigo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping with ACL user: %v", err)
	}
	if err := s.Set(t.Context(), "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
}

func TestOpen_bad_urls(t *testing.T) {
	for _, u := range []string{
		"",
		"localhost:6379",
		"http://localhost:6379",
		"redis://",
		"redis://localhost:notaport",
		"redis://localhost:70000",
		"redis://localhost:6379/x",
		"redis://localhost:6379/1/2",
		"redis://localhost:6379?pool_size=many",
		"redis://localhost:6379?read_timeout=soon",
		"redis://localhost:6379?nosuch=1",
		"redis://h1:1,h2:2",
		"redis+cluster://h1:1,h2:2",
		"rediss+cluster://h1:1",
		"redis+sentinel://h1:1/mymaster",
		"redis://user:s3cret@local host:6379",
	} {
		t.Run(u, func(t *testing.T) {
			s, err := redigo.Open(u, redigo.Options{})
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded, want ErrBadURL", u)
			}
			if !errors.Is(err, redigo.ErrBadURL) {
				t.Fatalf("Open(%q) = %v, want ErrBadURL", u, err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}
