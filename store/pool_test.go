package store_test

import (
	"context"
	"testing"
	"time"

	"esign/store"
	"esign/store/storetest"
)

// TestNewPoolSQLite: on SQLite, a transaction of NewPool's pool holds the
// store's write lock until it ends, so WithTx waits for it in the
// process rather than in SQLite's busy handler; and its statements,
// prepared once per text, give the right rows when the same query runs
// again while the first one's rows are still open.
func TestNewPoolSQLite(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, store.SQLite, store.Options{})
	pool, err := st.NewPool()
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	pool.SetMaxOpenConns(1)
	if _, err := pool.ExecContext(ctx, "CREATE TABLE pool_t (n INTEGER)"); err != nil {
		t.Fatal(err)
	}

	t.Run("transaction holds the write lock", func(t *testing.T) {
		tx, err := pool.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO pool_t (n) VALUES (1)"); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			done <- st.WithTx(ctx, func(tx *store.Tx) error {
				_, err := tx.ExecContext(ctx, "INSERT INTO pool_t (n) VALUES (2)")
				return err
			})
		}()
		select {
		case err := <-done:
			t.Fatalf("WithTx ran inside the pool's transaction: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// A rolled-back transaction releases the lock too.
		tx, err = pool.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		tx.Rollback()
		if err := st.WithTx(ctx, func(*store.Tx) error { return nil }); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("statements run again", func(t *testing.T) {
		for i := 3; i <= 5; i++ {
			if _, err := pool.ExecContext(ctx, "INSERT INTO pool_t (n) VALUES (?)", i); err != nil {
				t.Fatal(err)
			}
		}
		const q = "SELECT n FROM pool_t WHERE n >= ? ORDER BY n"
		tx, err := pool.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		outer, err := tx.QueryContext(ctx, q, 4)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for outer.Next() {
			var n int
			outer.Scan(&n)
			// The same text while outer's rows are open.
			var first int
			if err := tx.QueryRowContext(ctx, q, 1).Scan(&first); err != nil || first != 1 {
				t.Fatalf("inner query: %d, %v", first, err)
			}
			got = append(got, n)
		}
		if err := outer.Err(); err != nil {
			t.Fatal(err)
		}
		outer.Close()
		if len(got) != 2 || got[0] != 4 || got[1] != 5 {
			t.Fatalf("outer rows %v, want [4 5]", got)
		}
		for want := 1; want <= 5; want++ {
			var n int
			if err := tx.QueryRowContext(ctx, q, want).Scan(&n); err != nil || n != want {
				t.Fatalf("run %d: %d, %v", want, n, err)
			}
		}
	})
}
