package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// A minimal RESP2 client: the harness must not depend on the client library
// under test, and it only needs a handful of admin commands.

// respError is an error reply ("-ERR ...") from the server.
type respError string

func (e respError) Error() string { return string(e) }

type respConn struct {
	c       net.Conn
	r       *bufio.Reader
	timeout time.Duration
}

// dialRESP connects to addr and, when password is not empty, authenticates.
// timeout bounds the dial and every later command.
func dialRESP(addr, password string, timeout time.Duration) (*respConn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	rc := &respConn{c: c, r: bufio.NewReader(c), timeout: timeout}
	if password != "" {
		if _, err := rc.do("AUTH", password); err != nil {
			c.Close()
			return nil, fmt.Errorf("AUTH: %w", err)
		}
	}
	return rc, nil
}

func (rc *respConn) Close() error { return rc.c.Close() }

// do sends one command and reads its reply: string (simple or bulk), int64,
// []any, nil, or a respError as the error.
func (rc *respConn) do(args ...string) (any, error) {
	if err := rc.c.SetDeadline(time.Now().Add(rc.timeout)); err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(rc.c, b.String()); err != nil {
		return nil, err
	}
	return rc.read()
}

func (rc *respConn) read() (any, error) {
	line, err := rc.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return nil, errors.New("redistest: empty RESP line")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return nil, respError(line[1:])
	case ':':
		return strconv.ParseInt(line[1:], 10, 64)
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return nil, fmt.Errorf("redistest: bad bulk length %q", line)
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rc.r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return nil, fmt.Errorf("redistest: bad array length %q", line)
		}
		if n < 0 {
			return nil, nil
		}
		arr := make([]any, n)
		for i := range arr {
			v, err := rc.read()
			if err != nil && !isRESPError(err) {
				return nil, err
			}
			if err != nil {
				v = err
			}
			arr[i] = v
		}
		return arr, nil
	default:
		return nil, fmt.Errorf("redistest: unexpected RESP reply %q", line)
	}
}

func isRESPError(err error) bool {
	var re respError
	return errors.As(err, &re)
}

// command dials addr, runs one command and closes the connection.
func command(addr, password string, timeout time.Duration, args ...string) (any, error) {
	rc, err := dialRESP(addr, password, timeout)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return rc.do(args...)
}

// commandString is command for replies that are strings (status or bulk).
func commandString(addr, password string, timeout time.Duration, args ...string) (string, error) {
	v, err := command(addr, password, timeout, args...)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("redistest: %s: unexpected reply %T", args[0], v)
	}
	return s, nil
}
