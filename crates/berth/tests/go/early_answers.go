// Command early_answers drives a registry with Go's net/http client, the one containerd,
// skopeo and the distribution spec's conformance suite use, through the answers a registry
// gives before it has read a request body: 416 to a chunk out of order, 404 to an unknown
// upload, 401 without credentials, 413 to a manifest too large, 400 to a malformed digest.
// Each round sends a 1 MiB body (5 MiB for the manifest), reads the answer, then sends
// `GET /v2/` and checks that it went over the same, reused connection. A 24 MiB body must
// still get its answer, not a write error.
//
//	early_answers BASE_URL USER PASSWORD ROUNDS
//
// Prints one line per problem and exits 1 if there was any; prints a summary and exits 0
// otherwise. Standard library only.
package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"strconv"
)

const mib = 1 << 20

type client struct {
	base, user, password string
	http                 *http.Client
	problems             int
}

// answer is what one request came to.
type answer struct {
	status int
	// The connection's local address, whether it was reused, whether the answer closes it.
	conn           string
	reused, closes bool
}

// do sends a request. The answer's body is read and closed, so the connection can go back to
// the pool.
func (c *client) do(method, path string, body []byte, auth bool, headers map[string]string) (answer, error) {
	var a answer
	url := path
	if path[0] == '/' {
		url = c.base + path
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return a, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if auth {
		req.SetBasicAuth(c.user, c.password)
	}
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		a.conn = info.Conn.LocalAddr().String()
		a.reused = info.Reused
	}}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := c.http.Do(req)
	if err != nil {
		return a, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	a.status, a.closes = resp.StatusCode, resp.Close
	return a, err
}

func (c *client) problem(format string, args ...any) {
	c.problems++
	fmt.Printf(format+"\n", args...)
}

// early sends one early-answered request, then GET /v2/, which must reuse its connection.
func (c *client) early(what string, round int, method, path string, body []byte, auth bool, headers map[string]string, want int) {
	first, err := c.do(method, path, body, auth, headers)
	if err != nil {
		c.problem("%s, round %d: %v", what, round, err)
		return
	}
	if first.status != want {
		c.problem("%s, round %d: status %d, not %d", what, round, first.status, want)
		return
	}
	next, err := c.do("GET", "/v2/", nil, true, nil)
	switch {
	case err != nil:
		c.problem("%s, round %d: the next request: %v", what, round, err)
	case next.status != 200:
		c.problem("%s, round %d: the next request: status %d", what, round, next.status)
	case !next.reused || next.conn != first.conn:
		c.problem("%s, round %d: the next request opened a new connection", what, round)
	}
}

// upload starts an upload and returns its location.
func (c *client) upload(repo string) string {
	req, _ := http.NewRequest("POST", c.base+"/v2/"+repo+"/blobs/uploads/", nil)
	req.SetBasicAuth(c.user, c.password)
	resp, err := c.http.Do(req)
	if err != nil {
		fmt.Println("starting an upload:", err)
		os.Exit(1)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 {
		fmt.Println("starting an upload: status", resp.StatusCode)
		os.Exit(1)
	}
	return resp.Header.Get("Location")
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: early_answers BASE_URL USER PASSWORD ROUNDS")
		os.Exit(2)
	}
	rounds, err := strconv.Atoi(os.Args[4])
	if err != nil {
		fmt.Fprintln(os.Stderr, "ROUNDS:", err)
		os.Exit(2)
	}
	c := &client{base: os.Args[1], user: os.Args[2], password: os.Args[3], http: &http.Client{}}
	chunk := random(mib)
	manifest := random(5 * mib)
	unknown := "/v2/go/blobs/uploads/4b4f4b4f-0000-4000-8000-000000000000"
	for round := 0; round < rounds; round++ {
		location := c.upload("go")
		c.early("PATCH out of order", round, "PATCH", location, chunk, true,
			map[string]string{"Content-Range": fmt.Sprintf("%d-%d", mib, 2*mib-1)}, 416)
		c.early("PATCH of an unknown upload", round, "PATCH", unknown, chunk, true, nil, 404)
		c.early("PATCH without credentials", round, "PATCH", location, chunk, false, nil, 401)
		c.early("PUT with a malformed digest", round, "PUT", location+"?digest=sha256:1234", chunk, true, nil, 400)
		c.early("manifest PUT of 5 MiB", round, "PUT", "/v2/go/manifests/big", manifest, true,
			map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, 413)
	}
	// Too large to read for the connection's sake: answered with Connection: close, and the
	// client finishes writing.
	large := random(24 * mib)
	a, err := c.do("PATCH", unknown, large, true, nil)
	switch {
	case err != nil:
		c.problem("PATCH of 24 MiB: %v", err)
	case a.status != 404:
		c.problem("PATCH of 24 MiB: status %d, not 404", a.status)
	case !a.closes:
		c.problem("PATCH of 24 MiB: the answer did not say Connection: close")
	}
	if c.problems > 0 {
		os.Exit(1)
	}
	fmt.Printf("%d early answers, each followed by a request on the same connection\n", 5*rounds)
}
