package blob

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"esign/store"
)

//go:embed migrations
var migrationFiles embed.FS

// deleteChunk is how many rows one DeletePrefix transaction removes: a
// batch holds tens of thousands of blobs, and on SQLite one transaction
// deleting them all would hold the write lock the signing workers need.
const deleteChunk = 200

// DB is a Store in the table blobs of the service's database, for replicas
// on machines with no shared file system. Put holds the whole blob in
// memory (up to MaxSize), and Open reads it whole into memory.
type DB struct {
	// MaxSize caps a blob's length; Put fails with ErrTooLarge beyond it.
	// Default (zero) DefaultMaxSize. Set it before the first Put.
	MaxSize int64

	st *store.Store
}

// OpenDB makes the blobs table in st's database if it is missing and
// returns a DB on it.
func OpenDB(ctx context.Context, st *store.Store) (*DB, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx, "blob", sub); err != nil {
		return nil, err
	}
	return &DB{st: st}, nil
}

// Put implements Store with one upsert: the transaction makes it atomic
// and the database's commit durable.
func (d *DB) Put(ctx context.Context, key string, r io.Reader) (Info, error) {
	if err := ValidKey(key); err != nil {
		return Info{}, err
	}
	var buf bytes.Buffer
	info, err := copyBlob(ctx, &buf, r, maxSize(d.MaxSize))
	if err != nil {
		return Info{}, fmt.Errorf("put blob %q: %w", key, err)
	}
	data := buf.Bytes()
	if data == nil {
		data = []byte{} // nil would be NULL
	}
	err = d.st.WithTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO blobs (key, size, sha256, data) VALUES (?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256, data = excluded.data`,
			key, info.Size, hex.EncodeToString(info.SHA256[:]), data)
		return err
	})
	if err != nil {
		return Info{}, fmt.Errorf("put blob %q: %w", key, err)
	}
	return info, nil
}

// Open implements Store; the Object holds the blob in memory.
func (d *DB) Open(ctx context.Context, key string) (Object, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	var data []byte
	err := d.st.DB().QueryRowContext(ctx, d.st.Rebind("SELECT data FROM blobs WHERE key = ?"), key).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("open blob %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open blob %q: %w", key, err)
	}
	return memObject{bytes.NewReader(data)}, nil
}

type memObject struct{ r *bytes.Reader }

func (o memObject) ReadAt(p []byte, off int64) (int, error) { return o.r.ReadAt(p, off) }
func (o memObject) Close() error                            { return nil }
func (o memObject) Size() int64                             { return o.r.Size() }

// Delete implements Store.
func (d *DB) Delete(ctx context.Context, key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	err := d.st.WithTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM blobs WHERE key = ?", key)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete blob %q: %w", key, err)
	}
	return nil
}

// DeletePrefix implements Store, deleteChunk rows per transaction. Keys
// under prefix are those in [prefix, end) in byte order, where end is
// prefix with its last byte ('/') raised by one: an index range, and no
// LIKE pattern for '_' or '%' in keys to upset.
func (d *DB) DeletePrefix(ctx context.Context, prefix string) error {
	dir, err := validPrefix(prefix)
	if err != nil {
		return err
	}
	end := dir + string(rune('/'+1))
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("delete blobs %q: %w", prefix, err)
		}
		var n int64
		err := d.st.WithTx(ctx, func(tx *store.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE key IN
				(SELECT key FROM blobs WHERE key >= ? AND key < ? ORDER BY key LIMIT ?)`, prefix, end, deleteChunk)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return fmt.Errorf("delete blobs %q: %w", prefix, err)
		}
		if n < deleteChunk {
			return nil
		}
	}
}
