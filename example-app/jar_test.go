package main

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sync"
)

// jar is a cookie jar that also remembers the last session token it saw.
type jar struct {
	*cookiejar.Jar
	mu   sync.Mutex
	last string
}

func newJar() *jar {
	j, _ := cookiejar.New(nil)
	return &jar{Jar: j}
}

func (j *jar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	j.mu.Lock()
	for _, c := range cookies {
		if c.Name == "demo_session" {
			j.last = c.Value
		}
	}
	j.mu.Unlock()
	j.Jar.SetCookies(u, cookies)
}

func (j *jar) token() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.last
}
