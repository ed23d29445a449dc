package store

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
)

// Script is a Lua script run by EVALSHA, with EVAL as the fallback when the
// server does not know it yet (after a restart or SCRIPT FLUSH). Create
// scripts once, at package level, from embedded files:
//
//	//go:embed allow.lua
//	var allowLua string
//	var allowScript = store.NewScript(allowLua)
//
// A Script is immutable and safe for concurrent use.
type Script struct {
	src string
	sha string
}

// NewScript returns a Script for the Lua source src.
func NewScript(src string) *Script {
	h := sha1.Sum([]byte(src))
	return &Script{src: src, sha: hex.EncodeToString(h[:])}
}

// Source returns the Lua source.
func (s *Script) Source() string { return s.src }

// SHA1 returns the hex SHA-1 digest that EVALSHA uses.
func (s *Script) SHA1() string { return s.sha }

// IsNoScript reports whether err is Redis's NOSCRIPT reply to EVALSHA.
// Backends use it to decide on the one fallback to EVAL.
func IsNoScript(err error) bool {
	if err == nil {
		return false
	}
	if IsRedisError(err, "NOSCRIPT") {
		return true
	}
	return strings.HasPrefix(err.Error(), "NOSCRIPT")
}
