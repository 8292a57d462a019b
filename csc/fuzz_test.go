package csc_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"esign/csc"
)

// seed adds every fixture, and a few hostile bodies, to f's corpus.
func seed(f *testing.F) {
	files, _ := filepath.Glob("testdata/v*/*.json")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	for _, s := range []string{"", "{}", "null", "[]", `{"numSignatures": -1}`, `{"numSignatures": 1e99}`,
		`{"credentialID": "x", "numSignatures": 1, "hashes": ["!!"]}`, `{"hash": [1,2]}`, `{"documents": [{}]}`, "{} {}"} {
		f.Add([]byte(s))
	}
}

// checkErr: a parser refuses with a CSC 4xx error, never anything else.
func checkErr(t *testing.T, err error) {
	if err == nil {
		return
	}
	var e *csc.Error
	if !errors.As(err, &e) || e.Status < 400 || e.Status > 499 || e.Code == "" || e.Description == "" {
		t.Fatalf("not a CSC 4xx error: %#v", err)
	}
}

func FuzzParseAuthorize(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, v := range []csc.Version{csc.V1, csc.V2} {
			r, err := csc.ParseAuthorize(v, b)
			checkErr(t, err)
			if err == nil && (r.CredentialID == "" || r.NumSignatures < 1 || len(r.Hashes) > 0 && len(r.Hashes) != r.NumSignatures) {
				t.Fatalf("accepted %+v", r)
			}
		}
	})
}

func FuzzParseSignHash(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, v := range []csc.Version{csc.V1, csc.V2} {
			r, err := csc.ParseSignHash(v, b)
			checkErr(t, err)
			if err == nil && (r.SAD == "" || len(r.Hashes) == 0 || r.SignAlgo == "") {
				t.Fatalf("accepted %+v", r)
			}
		}
	})
}

func FuzzParseOthers(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := csc.ParseCredentialInfo(b)
		checkErr(t, err)
		_, err = csc.ParseList(b)
		checkErr(t, err)
		_, err = csc.ParseTimestamp(b)
		checkErr(t, err)
		_, err = csc.ParseSignDoc(b)
		checkErr(t, err)
	})
}
