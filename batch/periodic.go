package batch

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Periodic is work the job queue runs every Interval. River's elected
// leader alone schedules it, and a run is unique while it is waiting or
// running, so one replica at a time runs it; Run must still be safe to
// run twice at once (a replica may be taken for dead while it runs), by
// committing each step on a condition, as batch documents are.
type Periodic struct {
	// Name identifies the work: [a-z0-9_]{1,64}, unique.
	Name string
	// Interval between runs; the first comes when the replica starts.
	Interval time.Duration
	// Run does the work with the engine that runs it. It should stop
	// when ctx ends (after PeriodicTimeout at the latest) and leave the
	// rest to the next run: a longer run would be rescued as stuck and run
	// again elsewhere.
	Run func(ctx context.Context, e *Engine) error
}

// PeriodicTimeout bounds one run of a Periodic, under River's rescue of
// stuck jobs (30 minutes).
const PeriodicTimeout = 20 * time.Minute

// periodicQueue is the River queue of periodic work, one run at a time
// per replica.
const periodicQueue = "esign_periodic"

var periodicName = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

// periodicArgs names the Periodic a job runs.
type periodicArgs struct {
	Name string `json:"name"`
}

func (periodicArgs) Kind() string { return "esign_periodic" }

// addPeriodic registers the worker of ps and returns their River jobs.
func addPeriodic(e *Engine, workers *river.Workers, ps []Periodic) ([]*river.PeriodicJob, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	w := &periodicWorker{e: e, runs: map[string]Periodic{}}
	var jobs []*river.PeriodicJob
	for _, p := range ps {
		switch {
		case !periodicName.MatchString(p.Name):
			return nil, fmt.Errorf("batch: periodic work name %q (want [a-z0-9_]{1,64})", p.Name)
		case w.runs[p.Name].Run != nil:
			return nil, fmt.Errorf("batch: periodic work %q twice", p.Name)
		case p.Interval <= 0 || p.Run == nil:
			return nil, fmt.Errorf("batch: periodic work %q needs an interval and Run", p.Name)
		}
		w.runs[p.Name] = p
		name := p.Name
		jobs = append(jobs, river.NewPeriodicJob(river.PeriodicInterval(p.Interval), func() (river.JobArgs, *river.InsertOpts) {
			return periodicArgs{Name: name}, &river.InsertOpts{
				Queue: periodicQueue,
				// A failed run is not retried: the next one comes anyway.
				MaxAttempts: 1,
				// One run waiting or running at a time, whoever inserts it.
				UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
					rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
					rivertype.JobStateRetryable, rivertype.JobStateScheduled,
				}},
			}
		}, &river.PeriodicJobOpts{ID: name, RunOnStart: true}))
	}
	river.AddWorker(workers, w)
	return jobs, nil
}

type periodicWorker struct {
	river.WorkerDefaults[periodicArgs]
	e    *Engine
	runs map[string]Periodic
}

func (w *periodicWorker) Work(ctx context.Context, job *river.Job[periodicArgs]) error {
	p, ok := w.runs[job.Args.Name]
	if !ok {
		// Scheduled by a replica configured with work this one lacks.
		return river.JobCancel(fmt.Errorf("batch: no periodic work %q here", job.Args.Name))
	}
	err := p.Run(ctx, w.e)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		return nil // the next run goes on
	}
	return err
}

func (w *periodicWorker) Timeout(*river.Job[periodicArgs]) time.Duration { return PeriodicTimeout }
