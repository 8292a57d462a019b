package signer_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"esign/internal/testenv"
	"esign/signer"
)

// TestSignedRevisionDigest: Sign gives the digest of the revision its
// signature covers, never the input's; Extend signs nothing and gives
// none, where it used to give the input's digest under that name.
func TestSignedRevisionDigest(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	memo, err := os.ReadFile("../testdata/corpus/memo-chromium.pdf")
	if err != nil {
		t.Fatal(err)
	}
	res, err := env.Signer.Sign(ctx, bytes.NewReader(memo), int64(len(memo)), env.Creds["dev-official"], signer.Options{Level: signer.LevelT})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.SignedRevisionSHA256) != 32 || bytes.Equal(res.SignedRevisionSHA256, res.InputSHA256) {
		t.Errorf("Sign: SignedRevisionSHA256 %x, InputSHA256 %x", res.SignedRevisionSHA256, res.InputSHA256)
	}
	signed := append(append([]byte{}, memo...), res.Appended...)
	for _, level := range []signer.Level{signer.LevelLT, signer.LevelLTA} {
		ext, err := env.Signer.Extend(ctx, bytes.NewReader(signed), int64(len(signed)), signer.ExtendOptions{Level: level})
		if err != nil {
			t.Fatal(err)
		}
		if ext.SignedRevisionSHA256 != nil || len(ext.InputSHA256) != 32 || len(ext.OutputSHA256) != 32 {
			t.Errorf("Extend to %s: SignedRevisionSHA256 %x (want nil), InputSHA256 %x, OutputSHA256 %x",
				level, ext.SignedRevisionSHA256, ext.InputSHA256, ext.OutputSHA256)
		}
	}
}
