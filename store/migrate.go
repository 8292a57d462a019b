package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

//go:embed migrations
var migrationFiles embed.FS

// migrations returns the store's own schema, a directory per backend.
func migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// Migrate applies the migrations of one component (such as "store" or
// "audit") that the database has not seen yet. fsys holds a directory per
// backend ("sqlite", "postgres") of files named NNNN_description.sql,
// applied in order, each in its own transaction together with the record
// that it ran. A file may hold several statements.
//
// Processes that open the same database at once (a server and an admin
// command) are serialised: SQLite by its write lock, PostgreSQL by a
// transaction-scoped advisory lock.
func (s *Store) Migrate(ctx context.Context, component string, fsys fs.FS) error {
	dir := string(s.backend)
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return fmt.Errorf("migrations of %s: %w", component, err)
	}
	type step struct {
		version int
		name    string
	}
	var steps []step
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return fmt.Errorf("migrations of %s: file %s does not start with a positive number", component, e.Name())
		}
		steps = append(steps, step{v, e.Name()})
	}
	slices.SortFunc(steps, func(a, b step) int { return a.version - b.version })

	err = s.WithTx(ctx, func(tx *Tx) error {
		if err := s.migrationLock(ctx, tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			component TEXT NOT NULL,
			version INTEGER NOT NULL,
			name TEXT NOT NULL,
			applied_at TEXT NOT NULL,
			PRIMARY KEY (component, version))`)
		return err
	})
	if err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, st := range steps {
		body, err := fs.ReadFile(fsys, path.Join(dir, st.name))
		if err != nil {
			return fmt.Errorf("migrations of %s: %w", component, err)
		}
		err = s.WithTx(ctx, func(tx *Tx) error {
			if err := s.migrationLock(ctx, tx); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE component = ? AND version = ?", component, st.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			// No arguments: PostgreSQL takes the file through the simple
			// protocol, which allows several statements.
			if _, err := tx.tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (component, version, name, applied_at) VALUES (?, ?, ?, ?)",
				component, st.version, st.name, FormatTime(s.now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s/%s: %w", component, st.name, err)
		}
	}
	return nil
}

// CheckSchema reports an error unless every migration of component in
// fsys has been applied: a read-only opener cannot apply them itself.
func (s *Store) CheckSchema(ctx context.Context, component string, fsys fs.FS) error {
	entries, err := fs.ReadDir(fsys, string(s.backend))
	if err != nil {
		return fmt.Errorf("migrations of %s: %w", component, err)
	}
	want := 0
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".sql") {
			want++
		}
	}
	var have int
	err = s.queryRow(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE component = ?", component).Scan(&have)
	if err != nil {
		return fmt.Errorf("read schema version of %s: %w", component, err)
	}
	if have < want {
		return fmt.Errorf("the %s schema has %d of this program's %d migrations: run the signing service or `esign admin` on it first", component, have, want)
	}
	return nil
}

// migrationLock serialises migrating transactions across processes. On
// SQLite the transaction's write lock does it already; PostgreSQL's DDL
// takes no lock that would stop two sessions creating one table, so an
// advisory lock, released at commit, does.
func (s *Store) migrationLock(ctx context.Context, tx *Tx) error {
	if s.backend != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7301981432)")
	return err
}

// WithMigrationLock runs fn in a write transaction that holds the lock
// Migrate takes, for a library that migrates its own tables (the job
// queue's) and must not race another process doing the same.
func (s *Store) WithMigrationLock(ctx context.Context, fn func(*Tx) error) error {
	return s.WithTx(ctx, func(tx *Tx) error {
		if err := s.migrationLock(ctx, tx); err != nil {
			return err
		}
		return fn(tx)
	})
}
