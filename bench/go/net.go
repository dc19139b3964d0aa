package main

// The netpoller: TCPEcho, and the HTTPHello server that wrk loads.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

const (
	echoConns   = 256              // client connections, one goroutine each
	echoMsgSize = 64               // bytes per message
	echoLimit   = 60 * time.Second // deadline on every socket, and the time limit
)

// tcpEcho runs, in one process, an echo server on 127.0.0.1 with one
// goroutine per connection and 256 client goroutines with a connection
// each. Timed: the clients together do n round trips of a 64-byte message,
// each checked against what was sent. One op is one round trip; extras are
// round trips per second and the median and 99th percentile of round-trip
// latency. TCP_NODELAY is on for every socket, as net sets it by default.
func tcpEcho(m *meter) error {
	deadline := time.Now().Add(echoLimit)
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	defer ln.Close()
	if err := ln.SetDeadline(deadline); err != nil {
		return err
	}

	// Room for one error from the acceptor and from every server and
	// client goroutine, so none of them ever blocks reporting one.
	failures := make(chan error, 1+2*echoConns)
	var servers sync.WaitGroup
	servers.Add(1)
	go acceptEchoConns(ln, deadline, &servers, failures)

	conns := make([]net.Conn, echoConns)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	for c := range conns {
		if conns[c], err = net.Dial("tcp", ln.Addr().String()); err != nil {
			return err
		}
		if err := conns[c].SetDeadline(deadline); err != nil {
			return err
		}
		// One untimed round trip, so that every connection is fully
		// set up on both sides before the timed region.
		if _, err := echoRoundTrip(conns[c], c, -1, make([]byte, 2*echoMsgSize)); err != nil {
			return fmt.Errorf("first round trip of client %d: %w", c, err)
		}
	}

	release := make(chan struct{})
	latencies := make([][]time.Duration, echoConns)
	var clients sync.WaitGroup
	clients.Add(echoConns)
	for c := range conns {
		trips := m.n / echoConns
		if c < m.n%echoConns {
			trips++
		}
		latencies[c] = make([]time.Duration, trips)
		go func(c int) {
			defer clients.Done()
			buf := make([]byte, 2*echoMsgSize)
			<-release
			for i := range latencies[c] {
				took, err := echoRoundTrip(conns[c], c, i, buf)
				if err != nil {
					failures <- fmt.Errorf("client %d: %w", c, err)
					return
				}
				latencies[c][i] = took
			}
		}(c)
	}

	m.start()
	close(release)
	clients.Wait()
	m.stop()

	// The servers see EOF once their peers are closed, and finish.
	for c := range conns {
		conns[c].Close()
		conns[c] = nil
	}
	servers.Wait()
	select {
	case err := <-failures:
		return err
	default:
	}
	if m.elapsed > echoLimit {
		return fmt.Errorf("took %v, longer than the %v limit", m.elapsed, echoLimit)
	}

	all := make([]time.Duration, 0, m.n)
	for _, l := range latencies {
		all = append(all, l...)
	}
	m.add(float64(m.n)/m.elapsed.Seconds(), "ops/s")
	m.addLatencies(all)
	return nil
}

// acceptEchoConns accepts echoConns connections and serves each on a
// goroutine of its own, counted in servers; it reports errors on failures.
func acceptEchoConns(ln *net.TCPListener, deadline time.Time, servers *sync.WaitGroup, failures chan<- error) {
	defer servers.Done()
	for i := 0; i < echoConns; i++ {
		conn, err := ln.Accept()
		if err != nil {
			failures <- fmt.Errorf("accept: %w", err)
			return
		}
		servers.Add(1)
		go func() {
			defer servers.Done()
			if err := serveEcho(conn, deadline); err != nil {
				failures <- fmt.Errorf("server: %w", err)
			}
		}()
	}
}

// serveEcho writes back every 64-byte message read from conn until the
// client closes it, and then closes conn.
func serveEcho(conn net.Conn, deadline time.Time) error {
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	msg := make([]byte, echoMsgSize)
	for {
		if _, err := io.ReadFull(conn, msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if _, err := conn.Write(msg); err != nil {
			return err
		}
	}
}

// echoRoundTrip sends message seq of client c over conn, reads the echo and
// compares it with the message, and returns the time from just before the
// write to the end of the read. buf is scratch space of 2*echoMsgSize
// bytes: the message, then the reply.
func echoRoundTrip(conn net.Conn, c, seq int, buf []byte) (time.Duration, error) {
	msg, reply := buf[:echoMsgSize], buf[echoMsgSize:]
	binary.LittleEndian.PutUint64(msg[0:8], uint64(c))
	binary.LittleEndian.PutUint64(msg[8:16], uint64(seq))
	for k := 16; k < echoMsgSize; k++ {
		msg[k] = byte(k)
	}
	t := time.Now()
	if _, err := conn.Write(msg); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(conn, reply); err != nil {
		return 0, err
	}
	took := time.Since(t)
	if !bytes.Equal(msg, reply) {
		return 0, fmt.Errorf("round trip %d: the echo differs from the message", seq)
	}
	return took, nil
}

// serveHello answers every request on addr, whatever its path, with 200,
// Content-Type text/plain and the body "hello" (net/http adds the length
// and a Date), over HTTP/1.1 with keep-alive, until the process is killed.
func serveHello(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello")
	})
	fmt.Fprintf(os.Stderr, "gocbench-go: HTTPHello listening on http://%s/\n", ln.Addr())
	return http.Serve(ln, hello)
}

// httpClient: 16 goroutines send n GETs in all through one http.Client
// (keep-alive, 16 idle connections per host) and read each body ("hello",
// checked), against $BENCH_HTTP_ADDR when set, else serveHello's handler
// in this process.
func httpClient(m *meter) error {
	const workers = 16
	addr := os.Getenv("BENCH_HTTP_ADDR")
	if addr == "" {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer ln.Close()
		go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "hello")
		}))
		addr = ln.Addr().String()
	}
	url := "http://" + addr + "/"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	m.start()
	for i := 0; i < workers; i++ {
		count := m.n / workers
		if i < m.n%workers {
			count++
		}
		wg.Add(1)
		go func(count int) {
			defer wg.Done()
			buf := make([]byte, 64)
			for j := 0; j < count; j++ {
				resp, err := client.Get(url)
				if err != nil {
					errs <- err
					return
				}
				n, _ := io.ReadFull(resp.Body, buf[:5])
				rest, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if n != 5 || rest != 0 || string(buf[:5]) != "hello" {
					errs <- errors.New("unexpected body")
					return
				}
			}
		}(count)
	}
	wg.Wait()
	m.stop()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	m.add(float64(m.n)/m.elapsed.Seconds(), "req/s")
	return nil
}
