package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/sigv4"
)

// benchS3: a build's 100 MB artifact downloaded with S3 GetObject from the
// server's port, against `cat` of the same bytes.
func benchS3(e *benchEnv, rep *report) {
	size := int64(100 << 20)
	if *quick {
		size = 16 << 20
	}
	data := filepath.Join(e.tmp, "artifact.bin")
	writeLines(data, size)
	defer os.Remove(data)

	s := e.startServer(filepath.Join(e.tmp, "s3"))
	defer s.stop()
	defer os.RemoveAll(filepath.Join(e.tmp, "s3"))
	c := newClient(s.url, 2)
	c.mustCall("CreateProject", project("big", "version: 0.2\nphases:\n  build:\n    commands:\n      - cp "+data+" big.bin\nartifacts:\n  files: [big.bin]\n",
		map[string]any{"artifacts": map[string]any{"type": "S3", "location": "bench-artifacts", "name": "out", "packaging": "NONE"}}), nil)
	b := c.waitBuild(c.startBuild("big"))
	if b.Status != "SUCCEEDED" {
		fatalf("the artifact build ended %s", b.Status)
	}
	ref := timeShell("cat " + data + " > /dev/null")
	get := func() (int64, time.Duration) {
		req, _ := http.NewRequest(http.MethodGet, s.url+"/bench-artifacts/out/big.bin", nil)
		req.Header.Set("X-Amz-Content-Sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
		sigv4.Sign(req, nil, "test", "test", "", "us-east-1", "s3", time.Now())
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(resp.Body)
			fatalf("GetObject: %d %s", resp.StatusCode, strings.TrimSpace(string(body)))
		}
		n, err := drain(resp.Body)
		if err != nil {
			fatal(err)
		}
		return n, time.Since(t0)
	}
	get() // warm the page cache as cat's run did
	// One 100 MB transfer takes a tenth of a second: the median of five,
	// here and for the references below, is what this noisy machine can
	// compare.
	var n int64
	took := median(5, func() time.Duration {
		var d time.Duration
		n, d = get()
		return d
	})
	if n != size {
		fatalf("GetObject returned %d of %d bytes", n, size)
	}
	rate := float64(n) / took.Seconds() / (1 << 20)
	refRate := float64(size) / ref.Seconds() / (1 << 20)
	rep.add(fmt.Sprintf("S3 GetObject of a %s artifact", mb(size)), fmt.Sprintf("%.0f MB/s", rate),
		fmt.Sprintf("`cat` of the file: %.0f MB/s", refRate), fmt.Sprintf("%.0f%%", 100*rate/refRate), "≥ 50%", rate >= refRate/2)

	// What any HTTP server on this loopback reaches with the same client:
	// net/http serving the file itself.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal(err)
	}
	bare := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, data) })}
	go bare.Serve(ln)
	defer bare.Close()
	fetch := func() time.Duration {
		t0 := time.Now()
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			fatal(err)
		}
		drain(resp.Body)
		resp.Body.Close()
		return time.Since(t0)
	}
	fetch()
	bareRate := float64(size) / median(5, fetch).Seconds() / (1 << 20)
	rep.note("S3 GetObject (median of five transfers, as its references): over this loopback, with the same Go client, net/http serving the file itself (http.ServeFile) ran at %.0f MB/s in this run: buildbatch's GetObject is at %.0f%% of that; the rest of the gap to `cat` is the socket.", bareRate, 100*rate/bareRate)

	// The ceiling of any protocol on this loopback: the file sent over a
	// bare TCP connection (sendfile), read as cat reads.
	tcpRate := float64(size) / median(5, func() time.Duration { return tcpCopy(data) }).Seconds() / (1 << 20)
	rep.note("Loopback ceiling: the same file over a bare TCP connection on this loopback (sendfile, reads of 128 KiB as cat's, no protocol; median of five) ran at %.0f MB/s, %.0f%% of `cat` (%.0f MB/s); GetObject: %.0f%% of that (the two vary from run to run by more than their difference).", tcpRate, 100*tcpRate/refRate, refRate, 100*rate/tcpRate)
}

// tcpCopy is how long the file at path takes over a bare loopback TCP
// connection (the second of two runs: the first warms the page cache).
func tcpCopy(path string) time.Duration {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f, err := os.Open(path)
			if err == nil {
				io.Copy(c, f) // sendfile(2)
				f.Close()
			}
			c.Close()
		}
	}()
	var took time.Duration
	buf := make([]byte, catBuffer)
	for range 2 {
		t0 := time.Now()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			fatal(err)
		}
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		c.Close()
		took = time.Since(t0)
	}
	return took
}

// median runs f n times and returns the median of what it measured.
func median(n int, f func() time.Duration) time.Duration {
	ds := make([]time.Duration, n)
	for i := range ds {
		ds[i] = f()
	}
	slices.Sort(ds)
	return ds[n/2]
}

// catBuffer is the size of cat's reads (GNU coreutils: 128 KiB); the
// clients here read as cat does.
const catBuffer = 128 << 10

// drain reads r to its end in reads of catBuffer and returns the bytes.
func drain(r io.Reader) (int64, error) {
	buf := make([]byte, catBuffer)
	var n int64
	for {
		m, err := r.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
