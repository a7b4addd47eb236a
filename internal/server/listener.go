package server

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// maxHeaderBytes bounds the request headers net/http reads before trent
// sees a request: a KMS request's headers are a few hundred bytes, a
// session token a few KiB.
const maxHeaderBytes = 32 << 10

// limitListener serves at most max connections at once. A connection
// beyond that is answered 503 ThrottlingException, which every AWS SDK
// retries with back-off, and closed. With net/http's bounds (a header of
// at most maxHeaderBytes read before trent looks at the request, and no
// body read before the signature's headers pass) this bounds the memory
// clients without credentials can make trent hold.
//
// Under TLS the refusal is sent inside TLS too (tls set): the handshake is
// completed first, so that an SDK sees a 503 it retries rather than a
// broken handshake. A refusal takes at most a second, and at most 64 run
// at once; connections beyond those are closed without a word.
type limitListener struct {
	net.Listener
	slots    chan struct{}
	refusals chan struct{} // bounds the goroutines refusing connections
	refusal  []byte
	tls      *tls.Config // set when serving TLS
	refused  atomic.Uint64
}

func newLimitListener(l net.Listener, max int) *limitListener {
	body := fmt.Sprintf(`{"__type":"ThrottlingException","message":"Too many connections: this server serves at most %d at once. Reduce the number of concurrent connections, or retry later."}`, max)
	return &limitListener{
		Listener: l,
		slots:    make(chan struct{}, max),
		refusals: make(chan struct{}, 64),
		refusal: []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/x-amz-json-1.1\r\nConnection: close\r\n" +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body),
	}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitedConn{Conn: c, release: func() { <-l.slots }}, nil
		default:
		}
		l.refused.Add(1)
		select {
		case l.refusals <- struct{}{}:
			go func() {
				defer func() { <-l.refusals }()
				l.refuse(c)
			}()
		default:
			c.Close() // too many refusals under way: not even a polite answer
		}
	}
}

// refuse answers 503 and closes. It waits for the request's head first
// (HTTP clients do not expect an answer before their request), reading at
// most 16 KiB for at most a second, and lets the rest arrive after the
// answer, so that closing does not reset the connection before the client
// has read it.
func (l *limitListener) refuse(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if l.tls != nil {
		tc := tls.Server(c, l.tls)
		if tc.Handshake() != nil {
			return
		}
		c = tc
	}
	var buf [4096]byte
	var head []byte
	for len(head) < 16<<10 && !bytes.Contains(head, []byte("\r\n\r\n")) {
		n, err := c.Read(buf[:])
		head = append(head, buf[:n]...)
		if err != nil {
			return
		}
	}
	if _, err := c.Write(l.refusal); err != nil {
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite() // TCP's FIN, or TLS's close_notify
	}
	for range 16 {
		if _, err := c.Read(buf[:]); err != nil {
			return
		}
	}
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// loopbackHosts are the Host header values dev mode answers: the loopback
// names with the port it listens on (and without, on port 80). A web page
// that rebinds its own name to 127.0.0.1 sends its own name, and is refused.
func loopbackHosts(addr net.Addr) []string {
	_, port, _ := net.SplitHostPort(addr.String())
	hosts := []string{"localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port}
	if port == "80" {
		hosts = append(hosts, "localhost", "127.0.0.1", "[::1]")
	}
	return hosts
}
