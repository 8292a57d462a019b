package verify_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"esign/signer"
	"esign/verify"
)

// TestOwnSignatureLevels signs every corpus file at every level with the
// development signers and checks what the verifier makes of it, offline
// and with the dev PKI's OCSP and CRL services allowed.
func TestOwnSignatureLevels(t *testing.T) {
	f := newFixture(t)
	files, err := filepath.Glob("../testdata/corpus/*.pdf")
	if err != nil || len(files) == 0 {
		t.Fatalf("corpus: %v", err)
	}
	levels := []struct {
		level   signer.Level
		name    string
		offline want // online, every level passes
	}{
		{signer.LevelB, verify.LevelB, want{indication: verify.Indeterminate, sub: verify.TryLater}},
		{signer.LevelT, verify.LevelT, want{indication: verify.Indeterminate, sub: verify.TryLater}},
		{signer.LevelLT, verify.LevelLT, want{indication: verify.TotalPassed}},
		{signer.LevelLTA, verify.LevelLTA, want{indication: verify.TotalPassed}},
	}
	creds := []string{"dev-official", "dev-registrar", "dev-director"}
	for i, path := range files {
		in := corpus(t, filepath.Base(path))
		name := creds[i%len(creds)]
		cred := f.env.Creds[name]
		for _, lv := range levels {
			t.Run(filepath.Base(path)+"/"+string(lv.level), func(t *testing.T) {
				res, err := f.env.Signer.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), cred, signer.Options{Level: lv.level, Reason: "รับรองผลการศึกษา"})
				if err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				res.Write(&buf, bytes.NewReader(in))
				data := buf.Bytes()
				count := 1
				if lv.level == signer.LevelLTA {
					count = 2
				}
				for _, mode := range []string{"offline", "online"} {
					cfg, w := f.offline(), lv.offline
					if mode == "online" {
						cfg, w = f.online(), want{indication: verify.TotalPassed}
					}
					w.level = lv.name
					w.covers = boolp(res.Revisions == 1)
					rep := run(t, data, cfg)
					checkDoc(t, rep, w.indication, count)
					checkSig(t, rep, 0, w)
					s := rep.Signatures[0]
					if s.Field != res.Field || s.Signer.CommonName != cred.Chain[0].Subject.CommonName || s.Reason != "รับรองผลการศึกษา" {
						t.Errorf("%s: field %q, signer %q, reason %q", mode, s.Field, s.Signer.CommonName, s.Reason)
					}
					if s.SigningTime == nil || !s.SigningTime.Equal(res.SigningTime.Truncate(time.Second)) {
						t.Errorf("%s: signing time %v, signed at %v", mode, s.SigningTime, res.SigningTime)
					}
					if lv.level != signer.LevelB && (s.TimestampTime == nil || !s.TimestampTime.Equal(res.TimestampTime) || s.TSA == "") {
						t.Errorf("%s: timestamp time %v, TSA %q; token says %v", mode, s.TimestampTime, s.TSA, res.TimestampTime)
					}
					if lv.level == signer.LevelLTA {
						checkSig(t, rep, 1, want{kind: verify.KindDocumentTimestamp, indication: verify.TotalPassed, level: ""})
					}
				}
			})
		}
	}
}
