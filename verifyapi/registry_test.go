package verifyapi

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"esign/registry"
	"esign/verify"
)

// fakeRegistry holds documents by revision digest; err, when set, is
// what every lookup answers.
type fakeRegistry struct {
	docs []*registry.Document
	err  error
}

func (f fakeRegistry) Get(_ context.Context, id string) (*registry.Document, error) {
	if f.err != nil {
		return nil, f.err
	}
	for _, d := range f.docs {
		if d.ID == id {
			return d, nil
		}
	}
	return nil, registry.ErrNotFound
}

func (f fakeRegistry) ByRevision(_ context.Context, sum []byte) (*registry.Document, error) {
	if f.err != nil {
		return nil, f.err
	}
	for _, d := range f.docs {
		if bytes.Equal(d.RevisionSHA256, sum) {
			return d, nil
		}
	}
	return nil, registry.ErrNotFound
}

func testDocs() (valid, revoked *registry.Document) {
	v, _ := registry.NewID()
	r, _ := registry.NewID()
	issued := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	valid = &registry.Document{ID: v, Client: "c", Credential: "k", Issuer: "มหาวิทยาลัย", IssuedAt: issued,
		RevisionSHA256: bytes.Repeat([]byte{1}, 32), Label: "6401234", Status: registry.Valid}
	revoked = &registry.Document{ID: r, Client: "c", Credential: "k", Issuer: "มหาวิทยาลัย", IssuedAt: issued,
		RevisionSHA256: bytes.Repeat([]byte{2}, 32), Label: "6405678", Status: registry.Revoked,
		RevokedAt: issued.Add(time.Hour), Reason: "แก้ไขผลการเรียน"}
	return valid, revoked
}

// failAfter answers from docs until it has been asked n times, then fails
// like a database gone away.
type failAfter struct {
	fakeRegistry
	n     int
	asked *int
}

func (f failAfter) ByRevision(ctx context.Context, sum []byte) (*registry.Document, error) {
	if *f.asked++; *f.asked > f.n {
		return nil, errors.New("down")
	}
	return f.fakeRegistry.ByRevision(ctx, sum)
}

// TestLookUpEveryMatch: every signature's revision is looked up; a later
// registered signature that is revoked is not hidden behind an earlier
// valid one, the report's registry is the first valid one otherwise, all
// of them are in RegistryMatches, and the lookups stay bounded.
func TestLookUpEveryMatch(t *testing.T) {
	valid, revoked := testDocs()
	valid2 := *valid
	valid2.ID, valid2.RevisionSHA256 = "second"+valid.ID[6:], bytes.Repeat([]byte{3}, 32)
	reg := fakeRegistry{docs: []*registry.Document{valid, &valid2, revoked}}
	report := func(sums ...[]byte) *verify.Report {
		rep := &verify.Report{}
		for i, s := range sums {
			rep.Signatures = append(rep.Signatures, verify.SignatureResult{Field: string(rune('A' + i)), RevisionSHA256: hex.EncodeToString(s)})
		}
		return rep
	}
	other := bytes.Repeat([]byte{9}, 32)
	ids := func(ms []verify.RegistryMatch) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.ID+"/"+m.Field)
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		reg        Registry
		rep        *verify.Report
		status, id string
		field      string
		matches    []string
	}{
		{"valid, then revoked", reg, report(valid.RevisionSHA256, other, revoked.RevisionSHA256), "revoked", revoked.ID, "C",
			[]string{valid.ID + "/A", revoked.ID + "/C"}},
		{"revoked, then valid", reg, report(revoked.RevisionSHA256, valid.RevisionSHA256), "revoked", revoked.ID, "A",
			[]string{revoked.ID + "/A", valid.ID + "/B"}},
		{"two valid", reg, report(other, valid.RevisionSHA256, valid2.RevisionSHA256), "valid", valid.ID, "B",
			[]string{valid.ID + "/B", valid2.ID + "/C"}},
		{"revoked found, then the database fails", failAfter{reg, 1, new(int)}, report(revoked.RevisionSHA256, valid.RevisionSHA256),
			"revoked", revoked.ID, "A", []string{revoked.ID + "/A"}},
		{"valid found, then the database fails", failAfter{reg, 1, new(int)}, report(valid.RevisionSHA256, revoked.RevisionSHA256),
			"unavailable", "", "", []string{valid.ID + "/A"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			New(Config{Registry: tc.reg}).lookUp(context.Background(), tc.rep)
			got := tc.rep.Registry
			if got == nil || got.Status != tc.status || got.ID != tc.id || got.Field != tc.field {
				t.Errorf("registry %+v, want %s %s of %s", got, tc.status, tc.id, tc.field)
			}
			if m := ids(tc.rep.RegistryMatches); strings.Join(m, " ") != strings.Join(tc.matches, " ") {
				t.Errorf("matches %v, want %v", m, tc.matches)
			}
		})
	}

	// Bounded: a file with many signatures asks at most maxRegistryLookups
	// times, and the revoked one among them is still found if it is there.
	asked := new(int)
	counting := failAfter{reg, 1 << 30, asked}
	var sums [][]byte
	for i := range 3 * maxRegistryLookups {
		sums = append(sums, bytes.Repeat([]byte{byte(100 + i)}, 32))
	}
	sums[maxRegistryLookups-1] = revoked.RevisionSHA256
	rep := report(sums...)
	New(Config{Registry: counting}).lookUp(context.Background(), rep)
	if *asked != maxRegistryLookups {
		t.Errorf("%d lookups for %d signatures, want %d", *asked, len(sums), maxRegistryLookups)
	}
	if rep.Registry == nil || rep.Registry.ID != revoked.ID {
		t.Errorf("registry %+v, want the revoked document", rep.Registry)
	}
}

// TestLookUp: the first signature whose covered revision is registered
// names the document; none leaves the report without "registry"; a
// database error makes it "unavailable".
func TestLookUp(t *testing.T) {
	valid, revoked := testDocs()
	reg := fakeRegistry{docs: []*registry.Document{valid, revoked}}
	report := func(sums ...[]byte) *verify.Report {
		rep := &verify.Report{}
		for i, s := range sums {
			rep.Signatures = append(rep.Signatures, verify.SignatureResult{Field: string(rune('A' + i)), RevisionSHA256: hex.EncodeToString(s),
				Indication: verify.TotalPassed})
		}
		return rep
	}
	other := bytes.Repeat([]byte{9}, 32)
	for _, tc := range []struct {
		name   string
		reg    Registry
		rep    *verify.Report
		status string
		id     string
	}{
		{"valid", reg, report(valid.RevisionSHA256), "valid", valid.ID},
		{"revoked, second signature", reg, report(other, revoked.RevisionSHA256), "revoked", revoked.ID},
		{"unknown", reg, report(other), "", ""},
		{"no registry", nil, report(valid.RevisionSHA256), "", ""},
		{"database down", fakeRegistry{err: errors.New("down")}, report(valid.RevisionSHA256), "unavailable", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Config{Registry: tc.reg})
			s.lookUp(context.Background(), tc.rep)
			got := tc.rep.Registry
			switch {
			case tc.status == "" && got != nil:
				t.Errorf("registry %+v, want none", got)
			case tc.status != "" && (got == nil || got.Status != tc.status || got.ID != tc.id):
				t.Errorf("registry %+v, want %s %s", got, tc.status, tc.id)
			}
			if tc.rep.Signatures[0].Indication != verify.TotalPassed {
				t.Error("the signature's indication changed")
			}
			if got != nil && got.Status == "revoked" && (got.RevokedAt == nil || got.Reason == "") {
				t.Errorf("revoked without time or reason: %+v", got)
			}
		})
	}
}

// TestDocumentsEndpoint: GET /api/v1/documents/{id} answers the public
// fields only, 404 JSON for unknown and malformed IDs, 503 JSON when the
// database is down, and is not there without a registry.
func TestDocumentsEndpoint(t *testing.T) {
	valid, revoked := testDocs()
	h := New(Config{Registry: fakeRegistry{docs: []*registry.Document{valid, revoked}}}).Handler()
	get := func(h http.Handler, id string) (int, map[string]any, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/documents/"+id, nil))
		var out map[string]any
		json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out, rec.Body.String()
	}
	status, doc, body := get(h, revoked.ID)
	if status != 200 || doc["status"] != "revoked" || doc["reason"] != revoked.Reason || doc["revoked_at"] != "2026-03-01T03:00:00Z" ||
		doc["issued_at"] != "2026-03-01T02:00:00Z" || doc["issuer"] != revoked.Issuer || doc["id"] != revoked.ID {
		t.Errorf("revoked: %d %s", status, body)
	}
	if strings.Contains(body, revoked.Label) || strings.Contains(body, "label") || strings.Contains(body, `"c"`) {
		t.Errorf("personal or internal data: %s", body)
	}
	if status, doc, body = get(h, valid.ID); status != 200 || doc["status"] != "valid" || doc["revoked_at"] != nil {
		t.Errorf("valid: %d %s", status, body)
	}
	unknown, _ := registry.NewID()
	for _, id := range []string{unknown, "short", strings.Repeat("A", 200)} {
		if status, doc, body = get(h, id); status != 404 || doc["error"] == nil {
			t.Errorf("%q: %d %s", id, status, body)
		}
	}
	down := New(Config{Registry: fakeRegistry{err: errors.New("down")}}).Handler()
	if status, doc, body = get(down, valid.ID); status != 503 || doc["error"] == nil {
		t.Errorf("database down: %d %s", status, body)
	}
	if status, _, _ = get(New(Config{}).Handler(), valid.ID); status != 404 {
		t.Errorf("without a registry: %d", status)
	}
	// Rate-limited like the verification endpoint.
	limited := New(Config{Registry: fakeRegistry{docs: []*registry.Document{valid}}, RatePerMinute: 1, Burst: 1}).Handler()
	get(limited, valid.ID)
	if status, _, _ = get(limited, valid.ID); status != http.StatusTooManyRequests {
		t.Errorf("second request of a burst of 1: %d", status)
	}
}

// countGets counts the documents looked up by ID.
type countGets struct {
	Registry
	gets *int
}

func (c countGets) Get(ctx context.Context, id string) (*registry.Document, error) {
	*c.gets++
	return c.Registry.Get(ctx, id)
}

// TestDocPagePost: POST /d/{id} spends the rate limit before it asks the
// database, and with the database down still verifies the upload and says
// the registry could not be asked, rather than answering 503.
func TestDocPagePost(t *testing.T) {
	pdf, err := os.ReadFile("../testdata/corpus/memo-chromium.pdf")
	if err != nil {
		t.Fatal(err)
	}
	valid, _ := testDocs()
	post := func(h http.Handler, query string) (int, string) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", "doc.pdf")
		fw.Write(pdf)
		mw.Close()
		req := httptest.NewRequest(http.MethodPost, "/d/"+valid.ID+"?lang=en"+query, &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}

	down := New(Config{Registry: fakeRegistry{err: errors.New("down")}}).Handler()
	status, body := post(down, "")
	if status != http.StatusOK || !strings.Contains(body, `id="verdict"`) || !strings.Contains(body, "The registry cannot be read just now") {
		t.Errorf("database down: %d\n%s", status, body)
	}
	if status, body = post(down, "&partial=1"); status != http.StatusOK || !strings.Contains(body, `id="verdict"`) || strings.Contains(body, "<html") {
		t.Errorf("database down, partial: %d\n%s", status, body)
	}

	gets := new(int)
	limited := New(Config{Registry: countGets{fakeRegistry{docs: []*registry.Document{valid}}, gets}, RatePerMinute: 1, Burst: 1}).Handler()
	if status, body = post(limited, ""); status != http.StatusOK || !strings.Contains(body, `data-match="no"`) {
		t.Errorf("first post: %d\n%s", status, body)
	}
	if status, body = post(limited, "&partial=1"); status != http.StatusTooManyRequests || !strings.Contains(body, "Too many checks") || strings.Contains(body, "<html") {
		t.Errorf("second post of a burst of 1: %d\n%s", status, body)
	}
	if status, body = post(limited, ""); status != http.StatusTooManyRequests || !strings.Contains(body, "Too many checks") {
		t.Errorf("third post of a burst of 1: %d\n%s", status, body)
	}
	if *gets != 1 {
		t.Errorf("the database was asked %d times for one post within the limit", *gets)
	}
}
