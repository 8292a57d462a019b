package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestMaxUploads: with every place among the uploads in flight taken, a
// sign request gets 503 busy with Retry-After before its body is read;
// once a place frees, it signs.
func TestMaxUploads(t *testing.T) {
	srv, key := newTestServer(t, Config{MaxUploads: 1})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	srv.uploads <- struct{}{} // an upload in flight
	resp, err := http.DefaultClient.Do(newSignRequest(t, ts.URL, key))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("with every upload place taken: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	<-srv.uploads
	for range 3 { // and the places taken by these come back
		// The place is given back once the handler has written the
		// answer, which the client may read a moment before.
		for deadline := time.Now().Add(10 * time.Second); len(srv.uploads) > 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the upload's place never came back")
			}
		}
		resp, err = http.DefaultClient.Do(newSignRequest(t, ts.URL, key))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("with a free place: %d", resp.StatusCode)
		}
	}
}
