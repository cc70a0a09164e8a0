package writeback

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/cache/ns"
	"github.com/filegate/filegate/cache/vfs"
	"github.com/filegate/filegate/internal/background"
)

// Host is what the write-back needs of the rest of the cache.
type Host interface {
	// View and Update run fn in a namespace transaction, as the
	// cache's own calls do: Update's effect on the write-back reaches
	// Queue.Committed before it returns.
	View(fn func(Tx) error) error
	Update(fn func(Tx) error) error
	// OpenData opens the local content of the file ino for upload; an
	// error satisfying errors.Is(err, fs.ErrNotExist) means it was
	// never written.
	OpenData(ino ns.Ino) (vfs.File, error)
	// CommitPending stores the unstable writes not yet committed, so a
	// flush uploads them too.
	CommitPending()
}

// Tx is the cache's namespace transaction as the write-back sees it.
type Tx interface {
	// NS is the transaction itself, for the buckets.
	NS() *ns.Tx
	// Changes collects what the transaction journals and makes dirty.
	Changes() *Changes
	// Inode returns ino with its unstable writes not yet committed
	// applied, or an error satisfying errors.Is(err, syscall.ESTALE)
	// when it no longer exists.
	Inode(ino ns.Ino) (*ns.Inode, error)
	// PutInode stores n, keeping the cache's content records in step.
	PutInode(n *ns.Inode) error
	// Unstable reports whether ino has unstable writes not yet
	// committed and how many writes they fold in.
	Unstable(ino ns.Ino) (writes int64, ok bool)
}

// Config configures a Queue.
type Config struct {
	Host  Host
	DB    *ns.DB
	Store backend.Store
	Dirty *Dirty
	// UploadDelay is how long a file must go unwritten before it is
	// uploaded.
	UploadDelay time.Duration
	// UploadConcurrency is how many file uploads run in parallel.
	UploadConcurrency int
	// RetryMin and RetryMax bound the backoff between attempts of a
	// failing op.
	RetryMin, RetryMax time.Duration
	// OpTimeout bounds one backend change (an upload gets more in
	// proportion to its size).
	OpTimeout time.Duration
	Logger    *slog.Logger
	// OnSettling, when set, runs as a flush, having seen nothing left
	// to upload, starts to wait for the accounting (tests).
	OnSettling func()
}

// Failure is a backend change that keeps failing.
type Failure struct {
	Key      string
	Op       string
	Err      string
	Attempts int
	Since    time.Time
}

// Stats is a snapshot of the write-back's counters and queue.
type Stats struct {
	Uploads, UploadBytes, UploadErrors int64
	// Conflicts counts files changed both here and in the cloud.
	Conflicts  int64
	JournalOps int
	// LastError is the error of the latest failed attempt counted in
	// UploadErrors, kept when a retry succeeds.
	LastError string
	// Failing lists the changes failing right now, oldest first.
	Failing []Failure
}

// Queue applies the journal to the backend: a worker applies its ops in
// order, uploads of distinct keys in parallel, and retries failures with
// backoff; a scanner journals uploads of dirty files that have settled.
type Queue struct {
	cfg   Config
	host  Host
	db    *ns.DB
	store backend.Store
	dirty *Dirty
	log   *slog.Logger

	// accounting is read-held by an update from before its round until
	// Committed ran, so a flush that saw an update's result can wait
	// for what the counters say of it.
	accounting sync.RWMutex

	uploads, uploadBytes, uploadErrors, conflicts atomic.Int64
	// journalOps counts the records in the journal.
	journalOps atomic.Int64

	mu sync.Mutex
	// lastWrite is when each dirty inode was last written, so uploads
	// wait for files to settle. Missing after a restart: upload at once.
	lastWrite map[ns.Ino]time.Time
	// queued holds inodes with a Put in the journal, so the scanner
	// does not journal a second one.
	queued map[ns.Ino]bool
	// idle is closed and replaced whenever the journal drains.
	idle      chan struct{}
	lastError error
	// failing holds the ops that failed, by key, until they succeed or
	// are dropped.
	failing map[string]Failure

	kick chan struct{}
	// urgent cuts a retry backoff short for a waiting flush.
	urgent chan struct{}
	stop   context.CancelFunc
	bg     background.Group
}

// New reads the journal's state and returns a Queue, not yet started.
func New(cfg Config) (*Queue, error) {
	if cfg.Host == nil || cfg.DB == nil || cfg.Store == nil || cfg.Dirty == nil || cfg.Logger == nil {
		return nil, errors.New("writeback: Host, DB, Store, Dirty and Logger are required")
	}
	q := &Queue{
		cfg: cfg, host: cfg.Host, db: cfg.DB, store: cfg.Store, dirty: cfg.Dirty, log: cfg.Logger,
		lastWrite: map[ns.Ino]time.Time{}, queued: map[ns.Ino]bool{}, failing: map[string]Failure{},
		idle: make(chan struct{}), kick: make(chan struct{}, 1), urgent: make(chan struct{}, 1),
	}
	q.bg.Log = cfg.Logger
	err := q.host.View(func(t Tx) error {
		return t.NS().Journal.ForEach(func(_, v []byte) error {
			o, err := Unmarshal(v)
			if err != nil {
				return err
			}
			if o.Kind == Put {
				q.queued[o.Ino] = true
			}
			q.journalOps.Add(1)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return q, nil
}

// Start starts the worker and the scanner; they run until Close.
func (q *Queue) Start(ctx context.Context) {
	ctx, q.stop = context.WithCancel(ctx)
	q.bg.Go(func() { q.runJournal(ctx) })
	// The scanner journals an upload for every dirty file that has
	// settled.
	tick := max(min(q.cfg.UploadDelay/2, time.Second), 20*time.Millisecond)
	q.bg.Every(ctx, tick, nil, func() {
		q.bg.Guard("scan", func() { q.scan(false) })
		q.db.Reserve()
	}, nil)
}

// Close stops the worker and the scanner and waits for them, leaving
// unfinished work journalled for the next start.
func (q *Queue) Close() {
	if q.stop != nil {
		q.stop()
	}
	q.bg.Wait()
}

// BeginUpdate and EndUpdate bracket each namespace update, EndUpdate
// after its Committed, so a flush can wait for the accounting of the
// updates it saw (waitAccounting).
func (q *Queue) BeginUpdate() { q.accounting.RLock() }

// EndUpdate ends what BeginUpdate began.
func (q *Queue) EndUpdate() { q.accounting.RUnlock() }

// waitAccounting waits until every update that began before it has
// applied its effect on the in-memory counters.
func (q *Queue) waitAccounting() {
	if q.cfg.OnSettling != nil {
		q.cfg.OnSettling()
	}
	q.accounting.Lock()
	q.accounting.Unlock()
}

// Committed applies what a durable transaction did to the journal and
// the dirty files, and wakes the worker when it journalled something.
func (q *Queue) Committed(ch *Changes) {
	q.journalOps.Add(ch.enqueued)
	q.dirty.Apply(ch)
	if !ch.queued {
		return
	}
	q.mu.Lock()
	for _, ino := range ch.puts {
		q.queued[ino] = true
	}
	q.mu.Unlock()
	q.Kick()
}

// Kick wakes the worker.
func (q *Queue) Kick() {
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// Touched notes a write of ino, so its upload waits for it to settle.
func (q *Queue) Touched(ino ns.Ino) {
	q.mu.Lock()
	q.lastWrite[ino] = time.Now()
	q.mu.Unlock()
}

// Forget drops what the queue keeps in memory of the removed ino.
func (q *Queue) Forget(ino ns.Ino) {
	q.mu.Lock()
	delete(q.lastWrite, ino)
	q.mu.Unlock()
}

// Stats returns the current counters.
func (q *Queue) Stats() Stats {
	s := Stats{
		Uploads: q.uploads.Load(), UploadBytes: q.uploadBytes.Load(),
		UploadErrors: q.uploadErrors.Load(), Conflicts: q.conflicts.Load(),
		JournalOps: int(q.journalOps.Load()),
	}
	q.mu.Lock()
	if q.lastError != nil {
		s.LastError = q.lastError.Error()
	}
	for _, f := range q.failing {
		s.Failing = append(s.Failing, f)
	}
	q.mu.Unlock()
	slices.SortFunc(s.Failing, func(a, b Failure) int { return a.Since.Compare(b.Since) })
	return s
}
