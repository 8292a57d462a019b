// Package store keeps the signing service's persistent state: the API
// clients and the signer credentials they may use, and the schema other
// packages (such as audit) add to the same database.
//
// Two engines serve the one code path through database/sql: SQLite
// (embedded, the default, pure Go so no cgo toolchain is needed) at
// $ESIGN_DATA_DIR/esign.db, and PostgreSQL when ESIGN_DATABASE_URL is set.
// Queries are written with ? placeholders and rewritten to $n for
// PostgreSQL; schema migrations are embedded and applied at Open.
//
// Secrets are never stored as given: client API keys are kept as SHA-256
// hashes (they are 256-bit random, so a fast hash suffices), PINs as
// argon2id hashes with a per-credential salt, and TOTP secrets, which the
// server must be able to read back to compute codes, sealed with AES-GCM
// under a key kept in a file outside the database (see Options.SecretKeyFile).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var (
	// ErrNotFound reports a client or credential that does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrExists reports a name that is already taken.
	ErrExists = errors.New("store: already exists")
	// ErrInvalid reports a malformed name, mode or value.
	ErrInvalid = errors.New("store: invalid value")
	// ErrUnauthenticated reports a missing, unknown or disabled API key.
	ErrUnauthenticated = errors.New("store: missing or invalid API key")
	// ErrForbidden reports a credential the client may not use: not
	// assigned to it, disabled, or unknown (the client is not told which).
	ErrForbidden = errors.New("store: credential not assigned to this client")
	// ErrStaleTOTPStep reports a TOTP time step at or before the last one
	// accepted: a replayed or outdated code.
	ErrStaleTOTPStep = errors.New("store: TOTP time step already used")
)

// Backend names a database engine.
type Backend string

const (
	SQLite   Backend = "sqlite"   // embedded, the default
	Postgres Backend = "postgres" // when ESIGN_DATABASE_URL is set
)

// Options configures Open. The zero value opens SQLite under .esign-dev.
type Options struct {
	// DatabaseURL selects PostgreSQL (postgres:// or postgresql://, any
	// form pgx accepts). Empty selects SQLite at DataDir/esign.db.
	DatabaseURL string
	// DataDir holds the SQLite database and, by default, the secret key
	// file. Default ".esign-dev". Created (0700) if missing.
	DataDir string
	// SecretKeyFile holds the 256-bit AES key (64 hex digits) that seals
	// TOTP secrets at rest. It is made on first use; every server sharing
	// the database must be given the same file. Default
	// DataDir/secrets/totp-key.
	SecretKeyFile string
	// Now is the clock for creation and rotation times. Default time.Now.
	Now func() time.Time
	// ReadOnly opens an existing database only to read it, as the public
	// verifier does to check API keys: nothing is created or migrated
	// (SQLite is opened mode=ro; on PostgreSQL give the role SELECT
	// alone), and a schema older than this program is an error. Default
	// false.
	ReadOnly bool
}

// OptionsFromEnv reads ESIGN_DATABASE_URL, ESIGN_DATA_DIR (default
// .esign-dev) and ESIGN_TOTP_KEY_FILE (default
// $ESIGN_DATA_DIR/secrets/totp-key) through getenv.
func OptionsFromEnv(getenv func(string) string) Options {
	return Options{
		DatabaseURL:   strings.TrimSpace(getenv("ESIGN_DATABASE_URL")),
		DataDir:       strings.TrimSpace(getenv("ESIGN_DATA_DIR")),
		SecretKeyFile: strings.TrimSpace(getenv("ESIGN_TOTP_KEY_FILE")),
	}
}

// Store is an open database. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	backend Backend
	// open makes another pool on the same database; openPool one for
	// NewPool (on SQLite, whose transactions take writeMu).
	open, openPool func() (*sql.DB, error)
	now            func() time.Time
	box            *secretBox
	// writeMu serialises this process's write transactions on SQLite,
	// which allows one writer at a time: waiting here is cheaper and
	// fairer than SQLite's busy-retry loop. BEGIN IMMEDIATE still guards
	// against other processes (such as `esign admin`).
	writeMu sync.Mutex
	// stmts keeps prepared statements by query text: parsing a statement
	// costs more than running the small queries a request makes.
	stmts sync.Map
	// auth caches Authenticate and Authorize; see authCache.
	auth authCache
}

// prepared returns a prepared statement for query (already rebound), or
// nil when preparing fails; callers then run the query text directly.
func (s *Store) prepared(ctx context.Context, query string) *sql.Stmt {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sql.Stmt)
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt)
	}
	return st
}

// Open opens the database that opts names and brings its schema up to
// date.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.DataDir == "" {
		opts.DataDir = ".esign-dev"
	}
	if opts.SecretKeyFile == "" {
		opts.SecretKeyFile = filepath.Join(opts.DataDir, "secrets", "totp-key")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{now: opts.Now, box: &secretBox{path: opts.SecretKeyFile}}
	var err error
	switch {
	case opts.DatabaseURL == "":
		s.backend = SQLite
		s.open = func() (*sql.DB, error) { return openSQLite(opts.DataDir, opts.ReadOnly) }
		s.openPool = func() (*sql.DB, error) {
			dsn, err := sqliteDSN(opts.DataDir, opts.ReadOnly)
			if err != nil {
				return nil, err
			}
			return newLockedPool(dsn, &s.writeMu)
		}
	case strings.HasPrefix(opts.DatabaseURL, "postgres://"), strings.HasPrefix(opts.DatabaseURL, "postgresql://"):
		s.backend = Postgres
		s.open = func() (*sql.DB, error) { return sql.Open("pgx", opts.DatabaseURL) }
		s.openPool = s.open
	default:
		// The URL may hold a password: never echo it.
		return nil, fmt.Errorf("%w: ESIGN_DATABASE_URL must start with postgres:// or postgresql://", ErrInvalid)
	}
	s.db, err = s.open()
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", s.backend, err)
	}
	// Every signing request reads here; keep connections open rather
	// than reconnect (and, on SQLite, re-run the connection pragmas).
	s.db.SetMaxIdleConns(16)
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("connect to %s database: %w", s.backend, err)
	}
	if opts.ReadOnly {
		if err := s.CheckSchema(ctx, "store", migrations()); err != nil {
			s.db.Close()
			return nil, err
		}
		return s, nil
	}
	if s.backend == SQLite {
		if err := useWAL(ctx, s.db); err != nil {
			s.db.Close()
			return nil, err
		}
	}
	if err := s.Migrate(ctx, "store", migrations()); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

func openSQLite(dataDir string, readOnly bool) (*sql.DB, error) {
	dsn, err := sqliteDSN(dataDir, readOnly)
	if err != nil {
		return nil, err
	}
	return sql.Open("sqlite", dsn)
}

// sqliteDSN names the database in dataDir, with the connection settings.
func sqliteDSN(dataDir string, readOnly bool) (string, error) {
	path, err := filepath.Abs(filepath.Join(dataDir, "esign.db"))
	if err != nil {
		return "", err
	}
	if readOnly {
		// A reader must not leave an empty database where the signing
		// service's should be.
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("read-only database: %w", err)
		}
		return "file:" + path + "?mode=ro&_busy_timeout=30000", nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("make data directory: %w", err)
	}
	// Every transaction begins IMMEDIATE, taking the write lock up front,
	// so a read-then-write transaction (an audit append) cannot be
	// overtaken between its read and its write. A busy database is
	// waited for, up to 30 s.
	q := "_txlock=immediate&_busy_timeout=30000&_foreign_keys=1"
	return "file:" + path + "?" + q, nil
}

// useWAL switches an SQLite database to write-ahead logging, which lets
// readers run beside the one writer; the mode is kept in the file. The
// switch needs the database to itself and SQLite reports a clash at once
// rather than waiting, so when several processes open a new database
// together it is retried, for up to 30 s.
func useWAL(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(30 * time.Second)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		var mode string
		err := db.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("switch SQLite database to WAL: %w", err)
			}
			return nil
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close closes the database.
func (s *Store) Close() error {
	s.stmts.Range(func(_, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
	return s.db.Close()
}

// NewPool opens another connection pool on the same database, with the
// same connection settings, for a library that manages its connections
// itself (the job queue, which on SQLite wants a pool of one). On SQLite
// its transactions hold the same in-process write lock as WithTx's, from
// BEGIN to COMMIT or ROLLBACK: a caller must not begin one on it while it
// is inside WithTx. The caller closes it.
func (s *Store) NewPool() (*sql.DB, error) { return s.openPool() }

// Backend reports the engine in use.
func (s *Store) Backend() Backend { return s.backend }

// DB returns the underlying database, for packages that keep their own
// tables beside the store's (their queries go through Rebind) and for
// tests.
func (s *Store) DB() *sql.DB { return s.db }

// Rebind rewrites ? placeholders to PostgreSQL's $1, $2, … . Queries must
// not contain a literal question mark.
func (s *Store) Rebind(query string) string {
	if s.backend != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ForUpdate is the clause that row-locks what a SELECT reads inside a
// write transaction: " FOR UPDATE" on PostgreSQL, nothing on SQLite, whose
// transactions already hold the database's write lock.
func (s *Store) ForUpdate() string {
	if s.backend == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// Tx is a write transaction whose queries use ? placeholders.
type Tx struct {
	tx *sql.Tx
	s  *Store
}

// SQL is the transaction itself, for a library that writes in it beside
// the caller (the job queue enqueues a batch document's job with its row).
// Its queries take the engine's own placeholders.
func (t *Tx) SQL() *sql.Tx { return t.tx }

// ExecContext runs a statement in the transaction.
func (t *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = t.s.statementContext(ctx)
	q := t.s.Rebind(query)
	if st := t.s.prepared(ctx, q); st != nil {
		return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, q, args...)
}

// QueryContext runs a query in the transaction.
func (t *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = t.s.statementContext(ctx)
	q := t.s.Rebind(query)
	if st := t.s.prepared(ctx, q); st != nil {
		return t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, q, args...)
}

// QueryRowContext runs a query that returns at most one row.
func (t *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = t.s.statementContext(ctx)
	q := t.s.Rebind(query)
	if st := t.s.prepared(ctx, q); st != nil {
		return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

// WithTx runs fn in a write transaction and commits it if fn returns nil.
// On SQLite the transaction holds the database's write lock from its
// start; on PostgreSQL fn takes row locks with ForUpdate where it reads
// what it will write. fn must not call other Store methods that write.
func (s *Store) WithTx(ctx context.Context, fn func(*Tx) error) error {
	if s.backend == SQLite {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
	}
	tx, err := s.db.BeginTx(s.statementContext(ctx), nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(&Tx{tx: tx, s: s}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// statementContext is the context for a single-row read or a statement
// in a transaction. On SQLite it drops ctx's cancellation (keeping its
// values): given a context that can end, the driver starts a goroutine
// per statement to watch it, and database/sql another per result set,
// which costs more than the statement, on every signing request. Those
// statements are local and short, and a wait for the write lock is
// bounded by the busy timeout. PostgreSQL statements cross the network,
// so there ctx is kept whole.
func (s *Store) statementContext(ctx context.Context) context.Context {
	if s.backend == SQLite {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// queryRow runs a read outside any transaction.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = s.statementContext(ctx)
	q := s.Rebind(query)
	if st := s.prepared(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.db.QueryRowContext(ctx, q, args...)
}

// QueryRow runs a single-row read outside any transaction, through a
// statement prepared once per query text (rebound here), as the store's
// own reads are: parsing costs more than running the small reads a
// signing makes.
func (s *Store) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return s.queryRow(ctx, query, args...)
}

// Query runs a read outside any transaction, through a prepared
// statement as QueryRow does.
func (s *Store) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return s.query(ctx, query, args...)
}

func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q := s.Rebind(query)
	if st := s.prepared(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.db.QueryContext(ctx, q, args...)
}

// isUniqueViolation reports a duplicate primary or unique key.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	}
	return false
}

// timeLayout stores instants as fixed-width UTC text, so they read well,
// sort as text and round-trip exactly on both engines.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// FormatTime renders t in the database's time format (UTC, microseconds).
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// ParseTime reads a time written by FormatTime; "" is the zero time.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t, nil
}

// validName accepts 1–64 characters of letters, digits, '.', '_' and '-',
// starting with a letter or digit: names appear in URLs, logs and
// command lines.
func validName(kind, name string) error {
	ok := len(name) >= 1 && len(name) <= 64
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		ok = alnum || i > 0 && (c == '.' || c == '_' || c == '-')
	}
	if !ok {
		return fmt.Errorf("%w: %s name %q (want 1-64 letters, digits, '.', '_' or '-')", ErrInvalid, kind, name)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// IsUniqueViolation reports an insert that a primary or unique key
// refused, on either engine.
func IsUniqueViolation(err error) bool { return isUniqueViolation(err) }
