package signer_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"esign/internal/extverify"
	"esign/internal/testenv"
	"esign/signer"
)

// TestRoutingFields prepares one empty field per official in one update,
// then each official signs into their own field, the first certifying
// with P=2 and every one locking its field. All signatures stay valid.
func TestRoutingFields(t *testing.T) {
	env := testenv.New(t)
	nss := extverify.NSSDB(t, env.PKI.Root)
	ctx := context.Background()
	doc, _ := os.ReadFile("../testdata/corpus/memo-chromium.pdf")
	specs := []signer.FieldSpec{
		{Name: "drafter", Page: 1, Rect: [4]float64{50, 50, 200, 110}},
		{Name: "director", Page: 1, Rect: [4]float64{220, 50, 370, 110}},
		{Name: "secretary", Page: 1, Rect: [4]float64{390, 50, 540, 110}},
	}
	res, err := signer.AddFields(ctx, bytes.NewReader(doc), int64(len(doc)), specs)
	if err != nil {
		t.Fatal(err)
	}
	doc = append(doc, res.Appended...)
	if _, err := signer.AddFields(ctx, bytes.NewReader(doc), int64(len(doc)), specs[:1]); !errors.Is(err, signer.ErrBadOptions) {
		t.Errorf("duplicate field name: %v", err)
	}
	route := []struct {
		field, cred string
		certify     int
	}{{"drafter", "dev-official", 2}, {"director", "dev-director", 0}, {"secretary", "dev-registrar", 0}}
	for i, step := range route {
		doc = signFile(t, env.Signer, doc, env.Creds[step.cred], signer.Options{
			Level: signer.LevelLT, Field: step.field, Certify: step.certify, LockField: true,
		})
		checkExternally(t, env, nss, doc, i+1, true)
	}
	// A field cannot be signed twice.
	_, err = env.Signer.Sign(ctx, bytes.NewReader(doc), int64(len(doc)), env.Creds["dev-official"], signer.Options{Field: "drafter"})
	if !errors.Is(err, signer.ErrFieldSigned) {
		t.Errorf("signing a signed field: %v", err)
	}
	// Fields cannot be added after a P=2 certification.
	if _, err := signer.AddFields(ctx, bytes.NewReader(doc), int64(len(doc)), []signer.FieldSpec{{Name: "late", Page: 1, Rect: [4]float64{0, 0, 10, 10}}}); !errors.Is(err, signer.ErrDocMDPForbids) {
		t.Errorf("adding a field after certification: %v", err)
	}
	bad := []signer.FieldSpec{{Name: "x", Page: 9, Rect: [4]float64{0, 0, 10, 10}}}
	if _, err := signer.AddFields(ctx, bytes.NewReader(doc[:len(doc)/2]), int64(len(doc)/2), bad); err == nil {
		t.Error("AddFields accepted a truncated file")
	}
}
