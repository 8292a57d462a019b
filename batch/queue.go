package batch

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"esign/store"
)

// queueName is the River queue of batch documents.
const queueName = "esign_batch"

// signArgs is a batch document's job: which document to sign. Everything
// else is read from its row when the job is worked, so a job holds no
// state that could go stale.
type signArgs struct {
	Batch string `json:"batch"`
	Ref   string `json:"ref"`
}

func (signArgs) Kind() string { return "esign_sign_document" }

// queue is the engine's River client and this replica's heartbeat.
type queue struct {
	e      *Engine
	id     string
	pool   *sql.DB // River's own; on SQLite one connection, as its driver asks
	driver riverdriver.Driver[*sql.Tx]
	client *river.Client[*sql.Tx]

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

func openQueue(ctx context.Context, e *Engine) (*queue, error) {
	host, _ := os.Hostname()
	q := &queue{e: e, id: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), newID()[:8])}
	var err error
	if q.pool, err = e.st.NewPool(); err != nil {
		return nil, fmt.Errorf("job queue database: %w", err)
	}
	switch e.st.Backend() {
	case store.SQLite:
		// The SQLite driver wants one connection: River runs its own work
		// in parallel, and SQLite has one writer.
		q.pool.SetMaxOpenConns(1)
		q.driver = riversqlite.New(q.pool)
	default:
		q.pool.SetMaxOpenConns(8)
		q.driver = riverdatabasesql.New(q.pool)
	}
	if err := q.migrate(ctx); err != nil {
		q.pool.Close()
		return nil, err
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &signWorker{e: e})
	periodic, err := addPeriodic(e, workers, e.cfg.Periodic)
	if err != nil {
		q.pool.Close()
		return nil, err
	}
	cfg := &river.Config{
		ID:      q.id,
		Logger:  e.cfg.Logger.With("component", "batch-queue"),
		Workers: workers,
		// database/sql gives River no LISTEN/NOTIFY: it polls, and a
		// short cooldown lets it fetch again as soon as workers free up.
		PollOnly:          true,
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: 250 * time.Millisecond,
		MaxAttempts:       e.cfg.MaxAttempts,
		JobTimeout:        jobTimeout,
		// The replicas' heartbeats hand a dead replica's documents over
		// within seconds (reap); River's own rescue is the backstop.
		RescueStuckJobsAfter: 30 * time.Minute,
	}
	if e.cfg.Workers > 0 {
		// More jobs in hand than signing slots, so that a worker that
		// finishes finds the next document without waiting for a fetch;
		// the slots bound the documents in progress, and so the database
		// connections and signatures they use. A fetch comes at most
		// every FetchCooldown: with 8 jobs per slot (32 with the default
		// 4 slots) the fetches capped a replica at about 1,400 documents
		// a second (BenchmarkBatch B-B P-256: 1,402/s; RSA-2048 931/s,
		// 0.31 of raw); with 32 per slot, 1,843–2,100/s and 1,364–1,385/s.
		// A job in hand waiting for a slot costs a goroutine; a replica
		// killed mid-batch holds them until its heartbeat is found stale.
		cfg.Queues = map[string]river.QueueConfig{queueName: {MaxWorkers: max(32*e.cfg.Workers, 32)}}
		if len(periodic) > 0 {
			cfg.Queues[periodicQueue] = river.QueueConfig{MaxWorkers: 1}
			cfg.PeriodicJobs = periodic
		}
	}
	if q.client, err = river.NewClient(q.driver, cfg); err != nil {
		q.pool.Close()
		return nil, fmt.Errorf("job queue: %w", err)
	}
	return q, nil
}

// jobTimeout bounds one try of one document: a TSA or OCSP responder that
// hangs makes the try fail and be retried.
const jobTimeout = 5 * time.Minute

// migrate brings River's tables up to date, under the lock the store's
// migrations take, so replicas starting together do not race. Each
// version gets a transaction of its own: some cannot share one with the
// next (PostgreSQL refuses to use an enum value added in the same
// transaction, which version 6 does).
func (q *queue) migrate(ctx context.Context) error {
	m, err := rivermigrate.New(q.driver, &rivermigrate.Config{Logger: q.e.cfg.Logger.With("component", "batch-queue")})
	if err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	for {
		applied := 0
		err = q.e.st.WithMigrationLock(ctx, func(tx *store.Tx) error {
			// One step per call is what the deprecation asks for: River's
			// Migrate would do the same, but without the store's lock.
			//lint:ignore SA1019 one version per transaction, under the store's lock
			res, err := m.MigrateTx(ctx, tx.SQL(), rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{MaxSteps: 1})
			if err == nil {
				applied = len(res.Versions)
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate job queue: %w", err)
		}
		if applied == 0 {
			return nil
		}
	}
}

// enqueueTx queues a document's job in the transaction that adds its row.
func (q *queue) enqueueTx(ctx context.Context, tx *store.Tx, id, ref string) error {
	_, err := q.client.InsertTx(ctx, tx.SQL(), signArgs{Batch: id, Ref: ref}, &river.InsertOpts{Queue: queueName})
	if err != nil {
		return fmt.Errorf("queue document: %w", err)
	}
	return nil
}

func (q *queue) start(ctx context.Context) error {
	if err := q.beat(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	q.mu.Lock()
	q.cancel, q.done = cancel, make(chan struct{})
	q.mu.Unlock()
	if q.e.cfg.Workers > 0 {
		if err := q.client.Start(ctx); err != nil {
			cancel()
			return fmt.Errorf("start job queue: %w", err)
		}
	}
	go q.watch(ctx)
	return nil
}

func (q *queue) stop(ctx context.Context) error {
	q.mu.Lock()
	cancel, done := q.cancel, q.done
	q.cancel = nil
	q.mu.Unlock()
	if cancel == nil {
		return nil // not started, or stopped already
	}
	var err error
	if q.e.cfg.Workers > 0 {
		err = q.client.Stop(ctx)
	}
	cancel()
	<-done
	return err
}

func (q *queue) close() error { return q.pool.Close() }

// heartbeat is how often a replica says it is alive and looks for
// replicas that are not.
const heartbeat = 2 * time.Second

// watch keeps the heartbeat and hands the running documents of dead
// replicas back to the queue, until ctx ends.
func (q *queue) watch(ctx context.Context) {
	defer close(q.done)
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := q.beat(ctx); err != nil && ctx.Err() == nil {
			q.e.cfg.Logger.Warn("batch queue heartbeat", "error", err)
		}
		if err := q.reap(ctx); err != nil && ctx.Err() == nil {
			q.e.cfg.Logger.Warn("batch queue: rescue of a stopped replica's documents", "error", err)
		}
		q.e.refreshDepth(ctx)
	}
}

func (q *queue) beat(ctx context.Context) error {
	return q.e.st.WithTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO batch_replicas (id, seen_at) VALUES (?, ?)
			ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`, q.id, store.FormatTime(q.e.cfg.Now()))
		return err
	})
}

// reap makes the running jobs of replicas whose heartbeat stopped
// available again. River would rescue them too, but only after
// RescueStuckJobsAfter, which must be longer than any try may run; a
// replica killed mid-batch would hold its documents that long.
func (q *queue) reap(ctx context.Context) error {
	now := q.e.cfg.Now().UTC()
	horizon := now.Add(-q.e.cfg.ReplicaDeadAfter)
	rows, err := q.e.query(ctx, "SELECT id FROM batch_replicas WHERE seen_at >= ?", store.FormatTime(horizon))
	if err != nil {
		return err
	}
	live := map[string]bool{q.id: true}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		live[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	res, err := q.client.JobList(ctx, river.NewJobListParams().Kinds(signArgs{}.Kind()).
		States(rivertype.JobStateRunning).First(10000))
	if err != nil {
		return err
	}
	p := &riverdriver.JobRescueManyParams{StuckHorizon: horizon}
	for _, j := range res.Jobs {
		if len(j.AttemptedBy) == 0 || j.AttemptedAt == nil || j.AttemptedAt.After(horizon) {
			continue
		}
		by := j.AttemptedBy[len(j.AttemptedBy)-1]
		if live[by] {
			continue
		}
		msg, _ := json.Marshal(rivertype.AttemptError{At: now, Attempt: j.Attempt, Error: "replica " + by + " stopped working it"})
		p.ID = append(p.ID, j.ID)
		p.Error = append(p.Error, msg)
		p.FinalizedAt = append(p.FinalizedAt, nil)
		p.ScheduledAt = append(p.ScheduledAt, now)
		p.State = append(p.State, string(rivertype.JobStateAvailable))
	}
	if len(p.ID) == 0 {
		return nil
	}
	if _, err := q.driver.GetExecutor().JobRescueMany(ctx, p); err != nil {
		return err
	}
	q.e.cfg.Logger.Info("batch queue: documents of a stopped replica handed back", "documents", len(p.ID))
	_, err = q.e.st.DB().ExecContext(ctx, q.e.st.Rebind("DELETE FROM batch_replicas WHERE seen_at < ?"),
		store.FormatTime(now.Add(-time.Hour)))
	return err
}

// signWorker works batch documents.
type signWorker struct {
	river.WorkerDefaults[signArgs]
	e *Engine
}

func (w *signWorker) Work(ctx context.Context, job *river.Job[signArgs]) error {
	return w.e.sign(ctx, job.Args.Batch, job.Args.Ref, job.ID, job.Attempt, job.MaxAttempts)
}

// NextRetry spaces tries 1 s, 2 s, 4 s … apart, up to a minute, with
// jitter so that documents failed by one TSA outage do not all come back
// at once. River's default grows to hours, which would keep a batch
// waiting long after its TSA is back.
func (w *signWorker) NextRetry(job *river.Job[signArgs]) time.Time {
	d := time.Second << min(job.Attempt-1, 6)
	d = min(d, time.Minute)
	d += time.Duration(rand.Int64N(int64(d / 4)))
	return time.Now().Add(d)
}

func (w *signWorker) Timeout(*river.Job[signArgs]) time.Duration { return jobTimeout }

// errRetry marks a try that failed for a reason that may pass.
var errRetry = errors.New("batch: retry")
