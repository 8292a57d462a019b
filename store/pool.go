package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"sync"

	"modernc.org/sqlite"
)

// lockedPool wraps the SQLite pool that NewPool hands out: its
// transactions hold the store's write lock (writeMu) from their BEGIN to
// their COMMIT or ROLLBACK, as WithTx's do.
//
// Without it, the job queue's transactions and the store's wait for each
// other inside SQLite, whose busy handler sleeps 1, 2, 5, 10, 15, 20,
// 25 … ms between tries, holding writeMu (and with it every other writer
// of the process) while it sleeps. Measured on a batch of 10,000 B-B
// documents: the audit writer spent a quarter of its time asleep there.
// Queued on writeMu, a writer wakes as soon as the one before it ends.
//
// A statement run outside a transaction takes the lock too, until it
// ends (for a query, until its rows are closed): the job queue fetches
// jobs with a lone UPDATE … RETURNING, and a store transaction beginning
// while it ran would sleep in the busy handler (measured on a batch of
// 5,000 B-B documents: the fetch slept half the time, and BEGIN took
// 1.8 ms on average). Only a writer in another process still meets the
// busy handler.
type lockedPool struct {
	base driver.Connector
	mu   *sync.Mutex
}

func (p *lockedPool) Connect(ctx context.Context) (driver.Conn, error) {
	c, err := p.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &lockedConn{Conn: c, mu: p.mu}, nil
}

func (p *lockedPool) Driver() driver.Driver { return p.base.Driver() }

// lockedConn passes everything to the SQLite connection, but takes the
// write lock for a transaction.
type lockedConn struct {
	driver.Conn
	mu    *sync.Mutex
	stmts map[string]*cachedStmt // by query text
	inTx  bool                   // a transaction holds mu
}

func (c *lockedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	b, ok := c.Conn.(driver.ConnBeginTx)
	if !ok {
		return nil, errors.New("store: the SQLite driver cannot begin a transaction with options")
	}
	c.mu.Lock()
	tx, err := b.BeginTx(ctx, opts)
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	c.inTx = true
	return &lockedTx{tx: tx, c: c}, nil
}

// lockStatement takes the write lock for a statement outside a
// transaction, and returns what releases it.
func (c *lockedConn) lockStatement() (unlock func()) {
	if c.inTx {
		return func() {}
	}
	c.mu.Lock()
	var once sync.Once
	return func() { once.Do(c.mu.Unlock) }
}

func (c *lockedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return c.Conn.Prepare(query)
}

func (c *lockedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	unlock := c.lockStatement()
	defer unlock()
	if cs := c.cached(ctx, query); cs != nil {
		if e, ok := cs.st.(driver.StmtExecContext); ok {
			return e.ExecContext(ctx, args)
		}
	}
	if e, ok := c.Conn.(driver.ExecerContext); ok {
		return e.ExecContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

func (c *lockedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	unlock := c.lockStatement()
	rows, err := c.query(ctx, query, args)
	if err != nil {
		unlock()
		return nil, err
	}
	return &lockedRows{Rows: rows, unlock: unlock}, nil
}

func (c *lockedConn) query(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if cs := c.cached(ctx, query); cs != nil {
		if q, ok := cs.st.(driver.StmtQueryContext); ok {
			rows, err := q.QueryContext(ctx, args)
			if err != nil {
				return nil, err
			}
			cs.busy = true
			return &cachedRows{Rows: rows, cs: cs}, nil
		}
	}
	if q, ok := c.Conn.(driver.QueryerContext); ok {
		return q.QueryContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

// lockedRows releases a lone query's write lock when closed.
type lockedRows struct {
	driver.Rows
	unlock func()
}

func (r *lockedRows) Close() error {
	defer r.unlock()
	return r.Rows.Close()
}

// maxCachedStmts bounds a connection's prepared statements.
const maxCachedStmts = 64

// cachedStmt is a statement prepared once on the connection and run
// again for the same text. busy while its rows are open: the statement
// then cannot run again until they are closed, and a query of the same
// text goes to the connection directly.
type cachedStmt struct {
	st   driver.Stmt
	busy bool
}

// cached returns query's prepared statement, preparing it on first use;
// nil when it is busy or cannot be prepared (a script of several
// statements is run by the connection as it always is).
func (c *lockedConn) cached(ctx context.Context, query string) *cachedStmt {
	if cs, ok := c.stmts[query]; ok {
		if cs.busy {
			return nil
		}
		return cs
	}
	p, ok := c.Conn.(driver.ConnPrepareContext)
	if !ok {
		return nil
	}
	st, err := p.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	if len(c.stmts) >= maxCachedStmts {
		for q, old := range c.stmts {
			if !old.busy {
				old.st.Close()
				delete(c.stmts, q)
				break
			}
		}
	}
	if c.stmts == nil {
		c.stmts = map[string]*cachedStmt{}
	}
	cs := &cachedStmt{st: st}
	c.stmts[query] = cs
	return cs
}

func (c *lockedConn) Close() error {
	for _, cs := range c.stmts {
		cs.st.Close()
	}
	c.stmts = nil
	return c.Conn.Close()
}

// cachedRows frees its statement for the next run when closed.
type cachedRows struct {
	driver.Rows
	cs *cachedStmt
}

func (r *cachedRows) Close() error {
	r.cs.busy = false
	return r.Rows.Close()
}

func (c *lockedConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *lockedConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *lockedConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *lockedConn) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := c.Conn.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// lockedTx releases the write lock when the transaction ends.
type lockedTx struct {
	tx   driver.Tx
	c    *lockedConn
	once sync.Once
}

func (t *lockedTx) Commit() error {
	defer t.once.Do(t.end)
	return t.tx.Commit()
}

func (t *lockedTx) Rollback() error {
	defer t.once.Do(t.end)
	return t.tx.Rollback()
}

func (t *lockedTx) end() {
	t.c.inTx = false
	t.c.mu.Unlock()
}

// newLockedPool opens a pool on the SQLite database at dsn whose
// transactions take mu.
func newLockedPool(dsn string, mu *sync.Mutex) (*sql.DB, error) {
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(&lockedPool{base: base, mu: mu}), nil
}
