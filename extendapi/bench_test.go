package extendapi_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"esign/signer"
)

// BenchmarkExtend brings a B-T transcript to B-LTA with the built-in
// TSA, OCSP and CRL services on loopback, one document at a time, and
// reports documents per second. Its parts say where the time goes:
// "api" is POST /api/v1/extend whole (upload, validation, revocation
// fetches, two TSA requests, audit, answer); "validate" the verifier's
// pass alone; "signer" signer.Extend alone (revocation fetches, the DSS
// revision, the document timestamp and its TSA data).
func BenchmarkExtend(b *testing.B) {
	s := newServer(b)
	transcript, err := os.ReadFile("../testdata/corpus/transcript-chromium.pdf")
	if err != nil {
		b.Fatal(err)
	}
	bt := s.sign(b, transcript, signer.Options{Level: signer.LevelT})
	ctx := context.Background()
	run := func(name string, op func() error) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(bt)))
			for b.Loop() {
				if err := op(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
		})
	}
	run("api", func() error {
		resp, body := s.post(b, s.key, bt, "level", "B-LTA")
		if resp.StatusCode != 200 {
			b.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		return nil
	})
	run("validate", func() error {
		return s.ext.Check(ctx, bytes.NewReader(bt), int64(len(bt)))
	})
	run("signer", func() error {
		_, err := s.env.Signer.Extend(ctx, bytes.NewReader(bt), int64(len(bt)), signer.ExtendOptions{})
		return err
	})
}
