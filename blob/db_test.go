package blob_test

import (
	"context"
	"testing"

	"esign/blob"
	"esign/store"
	"esign/store/storetest"
)

// TestDBKeyCollation: on PostgreSQL the key column compares bytewise
// whatever the database's locale, as DeletePrefix's range needs (under
// glibc's en_US.UTF-8, for one, "b-1/x" does not sort between "b-1/" and
// "b-10").
func TestDBKeyCollation(t *testing.T) {
	st := storetest.Open(t, store.Postgres, store.Options{})
	if _, err := blob.OpenDB(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	var coll string
	err := st.DB().QueryRow(`SELECT collation_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'blobs' AND column_name = 'key'`).Scan(&coll)
	if err != nil || coll != "C" {
		t.Fatalf("blobs.key collation %q, %v; want C", coll, err)
	}
}

// TestOpenDBTwice: a second OpenDB, as a second replica makes, finds the
// table and the blobs in it.
func TestOpenDBTwice(t *testing.T) {
	ctx := context.Background()
	for _, b := range storetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			st := storetest.Open(t, b, store.Options{})
			d1, err := blob.OpenDB(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			put(t, d1, "k", []byte("v"))
			d2, err := blob.OpenDB(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			if string(read(t, d2, "k")) != "v" {
				t.Fatal("second OpenDB does not see the blob")
			}
		})
	}
}
