// Command loadgen is the data-plane benchmark's traffic: the upstream server behind every Envoy
// and the client that drives it. Go and the standard library only, so that the generator costs
// far less CPU per byte and per connection than the Envoy it measures (a Node generator used most
// of the two cores and hid every difference).
//
// Every stream is a sequence of length-prefixed messages in the Postgres style that picoseg's
// framing (offset 1, width 4, big endian, adjustment -4) reads: a type byte, then a 32-bit length
// that counts itself and the payload. The first message's type byte tells the upstream what to do:
//
//	'E' echo every byte back ('E' messages of 64 bytes: request/response, new connections, idle)
//	'S' sink: read and discard (bulk client -> server)
//	'D' download: after this first message, send 64 KiB messages until the client closes
//
//	loadgen serve -addr 127.0.0.1:0              prints {"port":P}, serves until stdin closes
//	loadgen run -mode M -target HOST:PORT ...    one bounded measurement, prints one JSON line
//
// run prints "go" when its timed window starts and the JSON result when it ends (before it closes
// its connections), so the caller can read Envoy's CPU time at exactly those two points.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	smallSize = 64        // request/response, new-connection and idle messages
	bulkFrame = 64 * 1024 // one bulk message
	bulkBurst = 4         // bulk messages per write
)

// frame writes a message of n bytes (n >= 5) of type t into b[:n].
func frame(b []byte, t byte, n int) {
	b[0] = t
	binary.BigEndian.PutUint32(b[1:5], uint32(n-1))
	for i := 5; i < n; i++ {
		b[i] = 'x'
	}
}

func bulkBuffer(t byte) []byte {
	b := make([]byte, bulkFrame*bulkBurst)
	for i := 0; i < bulkBurst; i++ {
		frame(b[i*bulkFrame:(i+1)*bulkFrame], t, bulkFrame)
	}
	return b
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", args...)
	os.Exit(2)
}

// ---- upstream server ----

func serve(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fail("listen: %v", err)
	}
	fmt.Printf("{\"port\":%d}\n", ln.Addr().(*net.TCPAddr).Port)
	// The bench owns this process: when its stdin closes (the bench ended or died), stop.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	download := bulkBuffer('d')
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		go handle(c, download)
	}
}

func handle(c net.Conn, download []byte) {
	defer c.Close()
	head := make([]byte, 5)
	if _, err := io.ReadFull(c, head); err != nil {
		return
	}
	switch head[0] {
	case 'E':
		if _, err := c.Write(head); err != nil {
			return
		}
		buf := make([]byte, 32*1024)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if _, werr := c.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	case 'S':
		_, _ = io.CopyBuffer(io.Discard, c, make([]byte, 256*1024))
	case 'D':
		rest := int(binary.BigEndian.Uint32(head[1:5])) + 1 - 5
		if rest < 0 || rest > 1<<20 {
			return
		}
		if _, err := io.ReadFull(c, make([]byte, rest)); err != nil {
			return
		}
		go func() { _, _ = io.Copy(io.Discard, c) }() // notice the client's close
		for {
			if _, err := c.Write(download); err != nil {
				return
			}
		}
	}
}

// ---- client ----

type result struct {
	Mode       string  `json:"mode"`
	Conns      int     `json:"conns"`
	Seconds    float64 `json:"seconds"`
	Bytes      int64   `json:"bytes"`
	Ops        int64   `json:"ops"`
	Errors     int64   `json:"errors"`
	FirstError string  `json:"firstError,omitempty"`
	P50us      float64 `json:"p50us"`
	P99us      float64 `json:"p99us"`
	CPUSec     float64 `json:"cpuSec"` // this process's user+system CPU during the window
}

type dialer struct {
	target string
	tls    *tls.Config
}

func (d dialer) dial() (net.Conn, error) {
	c, err := net.DialTimeout("tcp", d.target, 5*time.Second)
	if err != nil || d.tls == nil {
		return c, err
	}
	tc := tls.Client(c, d.tls)
	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		c.Close()
		return nil, err
	}
	_ = tc.SetDeadline(time.Time{})
	return tc, nil
}

func cpuNow() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

type errCount struct {
	n     atomic.Int64
	mu    sync.Mutex
	first string
}

func (e *errCount) add(err error) {
	if e.n.Add(1) == 1 {
		e.mu.Lock()
		e.first = err.Error()
		e.mu.Unlock()
	}
}

// exchange sends one 64-byte echo message and reads it back.
func exchange(c net.Conn, req, resp []byte) error {
	if _, err := c.Write(req); err != nil {
		return err
	}
	_, err := io.ReadFull(c, resp)
	return err
}

func percentile(sorted []int64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p / 100 * float64(len(sorted)))
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return float64(sorted[i]) / 1e3
}

// dialAll opens n connections, a few at a time (10,000 mTLS handshakes one by one would take long),
// each made ready by first (if not nil) before the worker dials the next: at most 8 are in
// progress, so neither Envoy's accept queue nor the upstream's overflows on a busy machine.
func dialAll(d dialer, n int, first func(net.Conn) error) []net.Conn {
	open := make([]net.Conn, n)
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for w := 0; w < min(n, 8); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				c, err := d.dial()
				if err != nil {
					fail("dial %d of %d: %v", i+1, n, err)
				}
				if first != nil {
					if err := first(c); err != nil {
						fail("first exchange on connection %d of %d: %v", i+1, n, err)
					}
				}
				open[i] = c
			}
		}()
	}
	wg.Wait()
	return open
}

// maxSamples bounds the latency samples kept per goroutine (memory stays bounded).
const maxSamples = 1 << 20

func run(mode string, d dialer, conns int, dur time.Duration) {
	res := result{Mode: mode, Conns: conns}
	var errs errCount
	var bytes, ops atomic.Int64
	var lats [][]int64
	var latMu sync.Mutex
	keep := func(l []int64) {
		latMu.Lock()
		lats = append(lats, l)
		latMu.Unlock()
	}

	// Connections that exist before the window (all modes but "connect").
	req := make([]byte, smallSize)
	frame(req, 'E', smallSize)
	// Every echo connection carries one message before the window: admission and sniffing
	// (picoseg decides the protocol on the first 64 bytes) are not part of the steady state.
	var first func(net.Conn) error
	if mode == "rr" || mode == "idle" {
		first = func(c net.Conn) error { return exchange(c, req, make([]byte, smallSize)) }
	}
	var open []net.Conn
	if mode != "connect" {
		open = dialAll(d, conns, first)
	}
	if mode == "idle" {
		// Hold the connections until stdin closes; print once they are all established.
		res.Ops = int64(len(open))
		out, _ := json.Marshal(res)
		fmt.Println(string(out))
		_, _ = io.Copy(io.Discard, os.Stdin)
		for _, c := range open {
			c.Close()
		}
		return
	}

	var wg sync.WaitGroup
	var deadline time.Time
	start := func() {
		fmt.Println("go")
		deadline = time.Now().Add(dur)
	}
	cpu0 := cpuNow()
	t0 := time.Now()
	switch mode {
	case "bulk-up":
		start()
		for _, c := range open {
			wg.Add(1)
			go func(c net.Conn) {
				defer wg.Done()
				buf := bulkBuffer('S')
				for time.Now().Before(deadline) {
					n, err := c.Write(buf)
					bytes.Add(int64(n))
					if err != nil {
						errs.add(err)
						return
					}
				}
			}(c)
		}
	case "bulk-down":
		first := make([]byte, smallSize)
		frame(first, 'D', smallSize)
		for _, c := range open {
			if _, err := c.Write(first); err != nil {
				fail("download request: %v", err)
			}
		}
		start()
		for _, c := range open {
			wg.Add(1)
			go func(c net.Conn) {
				defer wg.Done()
				buf := make([]byte, 256*1024)
				for time.Now().Before(deadline) {
					n, err := c.Read(buf)
					bytes.Add(int64(n))
					if err != nil {
						errs.add(err)
						return
					}
				}
			}(c)
		}
	case "rr":
		start()
		for _, c := range open {
			wg.Add(1)
			go func(c net.Conn) {
				defer wg.Done()
				resp := make([]byte, smallSize)
				l := make([]int64, 0, 4096)
				for time.Now().Before(deadline) {
					t := time.Now()
					if err := exchange(c, req, resp); err != nil {
						errs.add(err)
						break
					}
					if len(l) < maxSamples {
						l = append(l, int64(time.Since(t)))
					}
					ops.Add(1)
				}
				keep(l)
			}(c)
		}
	case "connect":
		// conns workers, each: connect, one 64-byte exchange, close; the latency is all of it.
		start()
		for i := 0; i < conns; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp := make([]byte, smallSize)
				l := make([]int64, 0, 4096)
				for time.Now().Before(deadline) {
					t := time.Now()
					c, err := d.dial()
					if err != nil {
						errs.add(err)
						time.Sleep(10 * time.Millisecond)
						continue
					}
					err = exchange(c, req, resp)
					c.Close()
					if err != nil {
						errs.add(err)
						continue
					}
					if len(l) < maxSamples {
						l = append(l, int64(time.Since(t)))
					}
					ops.Add(1)
				}
				keep(l)
			}()
		}
	default:
		fail("unknown mode %q", mode)
	}
	wg.Wait()
	res.Seconds = time.Since(t0).Seconds()
	res.CPUSec = cpuNow() - cpu0
	res.Bytes, res.Ops, res.Errors = bytes.Load(), ops.Load(), errs.n.Load()
	res.FirstError = errs.first
	var all []int64
	for _, l := range lats {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	res.P50us, res.P99us = percentile(all, 50), percentile(all, 99)
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	for _, c := range open {
		c.Close()
	}
}

func tlsConfig(cert, key, ca string) *tls.Config {
	if cert == "" {
		return nil
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		fail("client certificate: %v", err)
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		fail("CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		fail("CA: no certificate in %s", ca)
	}
	// No session cache: every new connection is a full mTLS handshake, as between sidecars.
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, ServerName: "localhost"}
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: loadgen serve|run [flags]")
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "serve: listen address")
	mode := fs.String("mode", "rr", "run: bulk-up | bulk-down | rr | connect | idle")
	target := fs.String("target", "", "run: HOST:PORT")
	conns := fs.Int("conns", 1, "run: connections (connect: workers)")
	dur := fs.Duration("duration", 2*time.Second, "run: timed window")
	cert := fs.String("tls-cert", "", "run: client certificate (mTLS)")
	key := fs.String("tls-key", "", "run: client key")
	ca := fs.String("tls-ca", "", "run: CA of the server certificate")
	_ = fs.Parse(os.Args[2:])
	switch os.Args[1] {
	case "serve":
		serve(*addr)
	case "run":
		if *target == "" {
			fail("run: -target is required")
		}
		if *conns < 1 || *conns > 20000 || *dur <= 0 || *dur > 60*time.Second {
			fail("run: -conns 1..20000 and -duration up to 60s")
		}
		run(*mode, dialer{target: *target, tls: tlsConfig(*cert, *key, *ca)}, *conns, *dur)
	default:
		fail("unknown command %q", os.Args[1])
	}
}
