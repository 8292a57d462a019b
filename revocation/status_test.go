package revocation

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestFileSource(t *testing.T) {
	ctx := context.Background()
	k1, k2 := newKey(t), newKey(t)
	ca1 := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "ca1"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, k1.Public(), nil, k1)
	ca2 := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "ca2"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, k2.Public(), nil, k2)
	path := filepath.Join(t.TempDir(), "status.json")
	src := &FileSource{Path: path}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	t.Run("missing file means good", func(t *testing.T) {
		st, err := src.ForIssuer(ca1).Status(ctx, big.NewInt(7))
		if err != nil || st.Revoked {
			t.Fatalf("Status = %+v, %v", st, err)
		}
	})

	t.Run("revoke is scoped to the issuer", func(t *testing.T) {
		if err := src.Revoke(ctx, ca1, big.NewInt(7), at, 1, "test"); err != nil {
			t.Fatal(err)
		}
		st, err := src.ForIssuer(ca1).Status(ctx, big.NewInt(7))
		if err != nil || !st.Revoked || !st.RevokedAt.Equal(at) || st.Reason != 1 {
			t.Fatalf("ca1 serial 7: %+v, %v", st, err)
		}
		if st, _ := src.ForIssuer(ca2).Status(ctx, big.NewInt(7)); st.Revoked {
			t.Fatalf("ca2 serial 7 revoked too")
		}
		if st, _ := src.ForIssuer(ca1).Status(ctx, big.NewInt(8)); st.Revoked {
			t.Fatalf("ca1 serial 8 revoked")
		}
		list, err := src.ForIssuer(ca1).Revoked(ctx)
		if err != nil || len(list) != 1 || list[0].Serial.Int64() != 7 {
			t.Fatalf("Revoked = %+v, %v", list, err)
		}
		if list, _ := src.ForIssuer(ca2).Revoked(ctx); len(list) != 0 {
			t.Fatalf("ca2 lists %+v", list)
		}
	})

	t.Run("another writer is seen", func(t *testing.T) {
		// A second FileSource stands for another process (esign dev revoke).
		other := &FileSource{Path: path}
		if err := other.Revoke(ctx, ca1, big.NewInt(9), at, 4, ""); err != nil {
			t.Fatal(err)
		}
		if st, err := src.ForIssuer(ca1).Status(ctx, big.NewInt(9)); err != nil || !st.Revoked || st.Reason != 4 {
			t.Fatalf("serial 9 after external revoke: %+v, %v", st, err)
		}
	})

	t.Run("broken file is an error, not good", func(t *testing.T) {
		if err := os.WriteFile(path, []byte(`{"revoked": [{"serial": "zz"}]}`), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := src.ForIssuer(ca1).Status(ctx, big.NewInt(7)); err == nil {
			t.Fatal("broken file read as valid")
		}
		if err := os.WriteFile(path, []byte(`not json`), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := src.ForIssuer(ca1).Revoked(ctx); err == nil {
			t.Fatal("broken file read as valid")
		}
		os.Remove(path)
	})

	t.Run("bad reason", func(t *testing.T) {
		if err := src.Revoke(ctx, ca1, big.NewInt(1), at, 7, ""); err == nil {
			t.Fatal("reason 7 (unused in RFC 5280) accepted")
		}
	})

	t.Run("concurrent use", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 20 {
			wg.Add(2)
			go func() {
				defer wg.Done()
				errs <- src.Revoke(ctx, ca2, big.NewInt(int64(100+i)), at, 0, "")
			}()
			go func() {
				defer wg.Done()
				_, err := src.ForIssuer(ca2).Status(ctx, big.NewInt(100))
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		list, err := src.ForIssuer(ca2).Revoked(ctx)
		if err != nil || len(list) != 20 {
			t.Fatalf("after 20 concurrent revokes: %d entries, %v", len(list), err)
		}
	})

	t.Run("canceled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := src.ForIssuer(ca1).Status(cctx, big.NewInt(1)); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}
