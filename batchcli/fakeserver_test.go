package batchcli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer implements the batch API's HTTP contract in memory, for the
// client's tests until the real server exists: API keys per client, a
// batch per idempotency key and client, 409 on a ref re-used with other
// bytes, paging in ref order, 404 for another client's batch, and 503
// with Retry-After on demand. A document is "signed" by appending bytes;
// one whose bytes contain FAIL fails with invalid_pdf. Signing advances
// only when the status is asked for, signPerPoll documents at a time, in
// reverse ref order, so completion order is not listing order.
type fakeServer struct {
	*httptest.Server

	mu          sync.Mutex
	clients     map[string]string // API key → client
	batches     map[string]*fakeBatch
	byIdem      map[string]string // client, idempotency key → batch id
	seq         int
	pageCap     int // documents a page holds at most
	signPerPoll int // documents signed per status request
	// raceRefs are stored with these bytes just before the first PUT of
	// the ref is looked at, as if another upload had come first: only the
	// PUT can find that conflict.
	raceRefs map[string][]byte
	// unavailableOnce answers 503 with Retry-After: 1 to the first PUT of
	// these refs.
	unavailableOnce map[string]bool

	// What the tests look at.
	creates     []map[string]string // create bodies as received
	accepted    map[string]int      // ref → PUTs answered 200 or 201
	putTimes    map[string][]time.Time
	downloads   map[string]int // ref → signed PDFs served
	requests    int
	afterUpload func(n int) // called with the number of accepted PUTs
	afterServe  func(n int) // called with the number of PDFs served
	nUploads    int
	nServed     int

	// conns is each connection's state, for quiesce.
	connMu sync.Mutex
	conns  map[net.Conn]http.ConnState
}

type fakeBatch struct {
	id, client string
	fields     map[string]string
	state      string
	docs       map[string]*fakeDoc
	created    time.Time
	finished   time.Time
}

type fakeDoc struct {
	ref, state string
	in, out    []byte
	errCode    string
	errMsg     string
}

const (
	testKey   = "esk_test_SECRET_4f9c2a7e1b"
	otherKey  = "esk_other_SECRET_77d0e3a9"
	directPIN = "PIN-SECRET-123456"
)

func newFakeServer(t *testing.T) *fakeServer {
	f := &fakeServer{
		clients:         map[string]string{testKey: "agency-a", otherKey: "agency-b"},
		batches:         map[string]*fakeBatch{},
		byIdem:          map[string]string{},
		pageCap:         3,
		signPerPoll:     2,
		unavailableOnce: map[string]bool{},
		raceRefs:        map[string][]byte{},
		accepted:        map[string]int{},
		putTimes:        map[string][]time.Time{},
		downloads:       map[string]int{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/batches", f.auth(f.create))
	mux.HandleFunc("GET /api/v1/batches/{id}", f.auth(f.batch(f.status)))
	mux.HandleFunc("DELETE /api/v1/batches/{id}", f.auth(f.batch(f.cancel)))
	mux.HandleFunc("POST /api/v1/batches/{id}/close", f.auth(f.batch(f.close)))
	mux.HandleFunc("GET /api/v1/batches/{id}/documents", f.auth(f.batch(f.list)))
	mux.HandleFunc("PUT /api/v1/batches/{id}/documents/{ref}", f.auth(f.put))
	mux.HandleFunc("GET /api/v1/batches/{id}/documents/{ref}", f.auth(f.batch(f.get)))
	f.conns = map[net.Conn]http.ConnState{}
	f.Server = httptest.NewUnstartedServer(mux)
	f.Server.Config.ConnState = func(c net.Conn, st http.ConnState) {
		f.connMu.Lock()
		defer f.connMu.Unlock()
		if st == http.StateClosed || st == http.StateHijacked {
			delete(f.conns, c)
			return
		}
		f.conns[c] = st
	}
	f.Server.Start()
	t.Cleanup(f.Close)
	return f
}

// quiesce waits until no connection is in a request: a request of an
// interrupted run, whose client has gone, may otherwise be answered after
// the next run has listed the batch, and be counted twice. (New
// connections do not count: a client's transport may dial one it never
// uses.)
func (f *fakeServer) quiesce(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.connMu.Lock()
		busy := 0
		for _, st := range f.conns {
			if st == http.StateActive {
				busy++
			}
		}
		f.connMu.Unlock()
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still busy", busy)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

type clientHandler func(w http.ResponseWriter, r *http.Request, client string)

func (f *fakeServer) auth(h clientHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests++
		scheme, key, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		client, ok := f.clients[key]
		f.mu.Unlock()
		if !strings.EqualFold(scheme, "Bearer") || !ok {
			fail(w, 401, "unauthenticated", "missing or unknown API key")
			return
		}
		h(w, r, client)
	}
}

// batch looks the batch up for its client: another client's is 404, as
// if it did not exist. The handler runs with f.mu held.
func (f *fakeServer) batch(h func(w http.ResponseWriter, r *http.Request, b *fakeBatch)) clientHandler {
	return func(w http.ResponseWriter, r *http.Request, client string) {
		f.mu.Lock()
		b, ok := f.batches[r.PathValue("id")]
		if !ok || b.client != client {
			f.mu.Unlock()
			fail(w, 404, "not_found", "no such batch")
			return
		}
		h(w, r, b)
		f.mu.Unlock()
	}
}

var createFields = []string{"signer", "level", "reason", "location", "idempotency_key", "contact", "certify",
	"field", "lock", "visible", "page", "rect", "doc_number", "doc_date", "subject", "urgency", "secrecy", "activation"}

func (f *fakeServer) create(w http.ResponseWriter, r *http.Request, client string) {
	var body map[string]string
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		fail(w, 400, "bad_request", "the body is not a JSON object of strings")
		return
	}
	for k := range body {
		if !slices.Contains(createFields, k) {
			fail(w, 400, "unknown_field", "unknown field "+k)
			return
		}
	}
	if body["signer"] == "" || body["level"] == "" {
		fail(w, 400, "bad_request", "signer and level are required")
		return
	}
	if body["signer"] == "dev-director" && body["activation"] != directPIN {
		fail(w, 403, "activation_failed", "wrong activation data")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creates = append(f.creates, body)
	idem := client + "\x00" + body["idempotency_key"]
	if id, ok := f.byIdem[idem]; ok && body["idempotency_key"] != "" {
		answer(w, 200, f.statusOf(f.batches[id]))
		return
	}
	f.seq++
	b := &fakeBatch{id: fmt.Sprintf("01JFAKE%04d", f.seq), client: client, fields: maps.Clone(body), state: "open", docs: map[string]*fakeDoc{}, created: time.Now()}
	delete(b.fields, "activation") // used, not kept
	f.batches[b.id] = b
	f.byIdem[idem] = b.id
	answer(w, 201, f.statusOf(b))
}

func (f *fakeServer) statusOf(b *fakeBatch) map[string]any {
	n := map[string]int{}
	for _, d := range b.docs {
		n[d.state]++
	}
	st := map[string]any{
		"id": b.id, "state": b.state, "total": len(b.docs), "signed": n["signed"], "failed": n["failed"],
		"pending": n["pending"], "cancelled": n["cancelled"], "created_at": b.created.UTC().Format(time.RFC3339),
		"finished_at": nil, "signer": b.fields["signer"], "level": b.fields["level"],
	}
	if !b.finished.IsZero() {
		st["finished_at"] = b.finished.UTC().Format(time.RFC3339)
	}
	if b.state == "running" {
		st["rate_per_s"] = 35.2
		st["eta_s"] = float64(n["pending"]) / 35.2
	}
	return st
}

func (f *fakeServer) status(w http.ResponseWriter, r *http.Request, b *fakeBatch) {
	f.signSome(b)
	answer(w, 200, f.statusOf(b))
}

// signSome signs up to signPerPoll pending documents, the last refs first.
func (f *fakeServer) signSome(b *fakeBatch) {
	if b.state != "running" {
		return
	}
	refs := f.sortedRefs(b)
	slices.Reverse(refs)
	n := 0
	for _, ref := range refs {
		d := b.docs[ref]
		if d.state != "pending" {
			continue
		}
		if n == f.signPerPoll {
			return
		}
		n++
		if bytes.Contains(d.in, []byte("FAIL")) {
			d.state, d.errCode, d.errMsg = "failed", "invalid_pdf", "the file is not a PDF: "+ref
			continue
		}
		d.state = "signed"
		d.out = append(slices.Clip(d.in), []byte("\n%signed by the fake as "+b.fields["signer"]+"\n")...)
	}
	b.state, b.finished = "done", time.Now()
}

func (f *fakeServer) sortedRefs(b *fakeBatch) []string {
	refs := make([]string, 0, len(b.docs))
	for ref := range b.docs {
		refs = append(refs, ref)
	}
	slices.Sort(refs)
	return refs
}

func (f *fakeServer) close(w http.ResponseWriter, r *http.Request, b *fakeBatch) {
	if b.state == "open" {
		b.state = "running"
		if len(b.docs) == 0 {
			b.state, b.finished = "done", time.Now()
		}
	}
	answer(w, 200, f.statusOf(b))
}

func (f *fakeServer) cancel(w http.ResponseWriter, r *http.Request, b *fakeBatch) {
	if b.state != "done" {
		for _, d := range b.docs {
			if d.state == "pending" {
				d.state = "cancelled"
			}
		}
		b.state, b.finished = "cancelled", time.Now()
	}
	answer(w, 200, f.statusOf(b))
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (f *fakeServer) list(w http.ResponseWriter, r *http.Request, b *fakeBatch) {
	q := r.URL.Query()
	state, after := q.Get("state"), q.Get("after")
	switch state {
	case "", "signed", "failed", "pending":
	default:
		fail(w, 400, "bad_request", "bad state")
		return
	}
	limit := 100
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fail(w, 400, "bad_request", "bad limit")
			return
		}
		limit = n
	}
	limit = min(limit, f.pageCap)
	type doc struct {
		Ref          string            `json:"ref"`
		State        string            `json:"state"`
		Error        map[string]string `json:"error,omitempty"`
		InputSHA256  string            `json:"input_sha256,omitempty"`
		OutputSHA256 string            `json:"output_sha256,omitempty"`
	}
	page := struct {
		Documents []doc  `json:"documents"`
		Next      string `json:"next"`
	}{Documents: []doc{}}
	for _, ref := range f.sortedRefs(b) {
		d := b.docs[ref]
		if ref <= after || state != "" && d.state != state {
			continue
		}
		if len(page.Documents) == limit {
			page.Next = page.Documents[limit-1].Ref
			break
		}
		e := doc{Ref: ref, State: d.state, InputSHA256: sha(d.in)}
		if d.state == "signed" {
			e.OutputSHA256 = sha(d.out)
		}
		if d.state == "failed" {
			e.Error = map[string]string{"code": d.errCode, "message": d.errMsg}
		}
		page.Documents = append(page.Documents, e)
	}
	answer(w, 200, page)
}

// put stores an upload. It reads the body before it takes the lock, as
// a server would.
func (f *fakeServer) put(w http.ResponseWriter, r *http.Request, client string) {
	ref := r.PathValue("ref")
	if !refPattern.MatchString(ref) {
		fail(w, 400, "bad_request", "bad ref")
		return
	}
	if r.Header.Get("Content-Type") != "application/pdf" {
		fail(w, 415, "unsupported_media_type", "want application/pdf")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the client went away: nothing is stored
	}
	f.mu.Lock()
	b, ok := f.batches[r.PathValue("id")]
	if !ok || b.client != client {
		f.mu.Unlock()
		fail(w, 404, "not_found", "no such batch")
		return
	}
	f.putTimes[ref] = append(f.putTimes[ref], time.Now())
	if f.unavailableOnce[ref] {
		delete(f.unavailableOnce, ref)
		f.mu.Unlock()
		w.Header().Set("Retry-After", "1")
		fail(w, 503, "busy", "try again")
		return
	}
	if b.state != "open" {
		f.mu.Unlock()
		fail(w, 409, "batch_not_open", "the batch is "+b.state)
		return
	}
	if raced, ok := f.raceRefs[ref]; ok {
		delete(f.raceRefs, ref)
		b.docs[ref] = &fakeDoc{ref: ref, state: "pending", in: raced}
	}
	status := 201
	if d, ok := b.docs[ref]; ok {
		if !bytes.Equal(d.in, body) {
			f.mu.Unlock()
			fail(w, 409, "conflict", "the batch holds other bytes under "+ref)
			return
		}
		status = 200
	} else {
		b.docs[ref] = &fakeDoc{ref: ref, state: "pending", in: body}
	}
	f.accepted[ref]++
	f.nUploads++
	n, hook := f.nUploads, f.afterUpload
	f.mu.Unlock()
	w.WriteHeader(status)
	if hook != nil {
		hook(n)
	}
}

// get serves a signed PDF.
func (f *fakeServer) get(w http.ResponseWriter, r *http.Request, b *fakeBatch) {
	d, ok := b.docs[r.PathValue("ref")]
	switch {
	case !ok:
		fail(w, 404, "not_found", "no such document")
		return
	case d.state == "failed":
		fail(w, 422, d.errCode, d.errMsg)
		return
	case d.state != "signed":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(409)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "not_signed", "state": d.state}})
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Length", strconv.Itoa(len(d.out)))
	w.Write(d.out)
	f.downloads[d.ref]++
	f.nServed++
	if f.afterServe != nil {
		f.afterServe(f.nServed)
	}
}

// seed makes an open batch for the test client holding docs.
func (f *fakeServer) seed(docs map[string][]byte) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	b := &fakeBatch{id: fmt.Sprintf("01JSEED%04d", f.seq), client: "agency-a", state: "open", docs: map[string]*fakeDoc{},
		fields: map[string]string{"signer": "dev-registrar", "level": "B-LTA"}, created: time.Now()}
	for ref, in := range docs {
		b.docs[ref] = &fakeDoc{ref: ref, state: "pending", in: in}
	}
	f.batches[b.id] = b
	return b.id
}

// snapshot copies a counter under the lock.
func (f *fakeServer) snapshot(m map[string]int) map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
