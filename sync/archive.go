package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
)

// ErrStorageDown is returned by Archiver.RunOnce when the recordings
// storage failed: archiving pauses (the sync goes on), and the recordings
// it held go back to be archived later.
var ErrStorageDown = errors.New("sync: recordings storage unavailable; archiving paused")

// RecordingQueue is the part of *store.DB the archiver takes its work from.
type RecordingQueue interface {
	ClaimRecordings(ctx context.Context, limit int, hold time.Duration) ([]store.RecordingTask, error)
	SettleRecording(ctx context.Context, o store.RecordingOutcome) error
	ReleaseRecordings(ctx context.Context, ids []string) error
}

// RecordingDeletions is the part of *store.DB that lists the objects
// forget and retention marked for deletion.
type RecordingDeletions interface {
	RecordingsToDelete(ctx context.Context, limit int) ([]store.RecordingObject, error)
	RecordingDeleted(ctx context.Context, callID, key string) error
}

// RecordingLinker asks the API for a recording's signed link. *api.Client
// implements it.
type RecordingLinker interface {
	RecordingLink(ctx context.Context, id string) (*url.URL, error)
}

// RecordingDownloader opens a signed link. *api.Downloader implements it.
type RecordingDownloader interface {
	Open(ctx context.Context, link *url.URL) (*api.Download, error)
}

// ObjectStore is where recordings are archived. objects.Store implements it.
type ObjectStore interface {
	Put(ctx context.Context, key string, body io.Reader, contentType string) error
	Delete(ctx context.Context, key string) error
}

// Budget hands out the API requests left over by intake. *Limiter
// implements it: TryTake never waits.
type Budget interface {
	TryTake(ctx context.Context) bool
	Throttled(ctx context.Context, retryAfter time.Duration)
}

// ArchiveConfig tunes an Archiver. Zero fields take defaults.
type ArchiveConfig struct {
	// UpstreamRetention is how long Synthflow keeps recordings (the agent's
	// retention setting); a call older than that without a recording is
	// counted gone, not none. Zero: unknown.
	UpstreamRetention time.Duration
	// MaxAttempts is how many failed attempts make the archiver give up on
	// a recording (8).
	MaxAttempts int
	// MaxBytes bounds one recording (4 GiB).
	MaxBytes int64
	// Retry spaces attempts after failures (1 min doubling to 6 h).
	Retry Backoff
}

func (c ArchiveConfig) withDefaults() ArchiveConfig {
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 8
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = 4 << 30
	}
	if c.Retry == (Backoff{}) {
		c.Retry = Backoff{Base: time.Minute, Max: 6 * time.Hour}
	}
	return c
}

// Archiver copies call recordings into storage the user owns: for each
// stored call, it asks the API for the recording's signed link (one request
// of the budget), streams the audio into the store, and records the object
// (or why there is none). It also deletes the objects that forget and
// retention marked. Its fields are set before the first run.
type Archiver struct {
	Queue     RecordingQueue
	Deletions RecordingDeletions
	API       RecordingLinker
	Download  RecordingDownloader
	Objects   ObjectStore
	Budget    Budget
	Logger    *slog.Logger
	Config    ArchiveConfig
	// Redact holds the secrets kept out of the errors a recording keeps
	// (recordings.last_error); nil redacts nothing.
	Redact *api.Redactor
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// StorageUp, when set, is told after each use of the storage whether it
	// worked. For metrics.
	StorageUp func(up bool)
	// Window is how long a run may wait for the budget to give tokens once
	// it gave none; zero: a run takes only the tokens at hand. The waiting
	// holds no token: intake takes what it needs meanwhile.
	Window time.Duration
	// Yield, when set, is asked between recordings and while waiting for
	// tokens: true ends the run, leaving the rest for later (intake wants
	// the worker).
	Yield func() bool

	mu         sync.Mutex
	pauseUntil time.Time
	pause      time.Duration
}

// ArchiveStats counts what a run did.
type ArchiveStats struct {
	Requests   int   // API requests made (links asked for)
	Archived   int   // recordings stored
	Bytes      int64 // their size
	None       int   // calls without a recording (for now)
	Processing int   // recordings still being processed upstream
	Gone       int   // recordings deleted upstream
	Failed     int   // attempts that failed, tried again later or given up
	Deleted    int   // objects deleted for forget and retention
	Waiting    int   // recordings left for a later run: no budget left
}

// claimChunk is how many rows a run takes at a time; each needs a token.
const claimChunk = 20

// claimHold keeps claimed rows from other processes while a run works on
// them; a process that dies holding them leaves them due after it.
const claimHold = 30 * time.Minute

// notConnected are the final statuses of calls that never connected: they
// have no recording, and asking would spend the budget for nothing.
var notConnected = map[string]bool{"failed": true, "no-answer": true, "busy": true, "canceled": true, "user-canceled": true}

// RunOnce deletes the objects marked for deletion, then archives due
// recordings while the budget gives tokens without waiting. It returns
// ErrStorageDown (wrapped) when the storage failed, ErrUnauthorized or
// ErrAPIUnavailable when the API cannot be used, a database error, or
// ctx's error. Per-recording failures are recorded on their rows.
func (a *Archiver) RunOnce(ctx context.Context) (ArchiveStats, error) {
	var st ArchiveStats
	if until := a.pausedUntil(); a.now().Before(until) {
		return st, fmt.Errorf("%w until %s", ErrStorageDown, until.UTC().Format(time.RFC3339))
	}
	if err := a.deleteMarked(ctx, &st); err != nil {
		return st, err
	}
	cfg := a.Config.withDefaults()
	deadline := a.now().Add(a.Window)
	for {
		tasks, err := a.Queue.ClaimRecordings(ctx, claimChunk, claimHold)
		if err != nil || len(tasks) == 0 {
			return st, err
		}
		for i, t := range tasks {
			stop, err := a.archive(ctx, cfg, t, deadline, &st)
			if stop || err != nil {
				rest := make([]string, 0, len(tasks)-i)
				for _, r := range tasks[i:] {
					rest = append(rest, r.CallID)
				}
				if stop && err == nil {
					st.Waiting += len(rest)
				}
				if rerr := a.Queue.ReleaseRecordings(context.WithoutCancel(ctx), rest); rerr != nil && err == nil {
					err = rerr
				}
				return st, err
			}
		}
	}
}

// archive works on one task. stop says the run ends before it (no budget
// left, rate limited): the task goes back. An error also ends the run, the
// task going back.
func (a *Archiver) archive(ctx context.Context, cfg ArchiveConfig, t store.RecordingTask, deadline time.Time, st *ArchiveStats) (stop bool, err error) {
	if a.Yield != nil && a.Yield() {
		return true, nil
	}
	out := store.RecordingOutcome{CallID: t.CallID}
	switch {
	case t.Status != "" && notConnected[t.Status]:
		out.State, out.Error = store.RecordingNone, "the call never connected"
		st.None++
		return false, a.settle(ctx, out, "")
	case t.Status != "" && !IsFinal(t.Status) && a.now().Sub(t.StartedAt) < 24*time.Hour:
		// Still going: ask once it is over. Costs nothing.
		out.State, out.NextTry = t.State, a.now().Add(10*time.Minute)
		return false, a.settle(ctx, out, "")
	}
	var dl *api.Download
	for refreshed := false; ; refreshed = true {
		if !a.take(ctx, deadline) {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			if refreshed { // the link expired and no token is left to ask again
				out.State, out.Error, out.NextTry = store.RecordingError, "the link expired; no budget left to ask again", a.now().Add(time.Minute)
				st.Failed++
				return false, a.settle(ctx, out, "")
			}
			return true, nil
		}
		st.Requests++
		link, err := a.API.RecordingLink(ctx, t.CallID)
		if err != nil {
			return a.linkFailed(ctx, cfg, t, err, st)
		}
		dl, err = a.Download.Open(ctx, link)
		if errors.Is(err, api.ErrLinkExpired) && !refreshed {
			a.Logger.Debug("recording link expired; asking for a fresh one", callIDAttr(t.CallID))
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			return false, a.failed(ctx, cfg, t, err, st)
		}
		break
	}
	defer dl.Body.Close()
	ctype := contentType(dl.ContentType)
	key := ObjectKey(t.StartedAt, t.CallID, ctype)
	v := newVerifier(dl.Body, dl.Size, cfg.MaxBytes, dl.SHA256, dl.MD5)
	perr := a.Objects.Put(ctx, key, v, ctype)
	switch {
	case perr == nil:
	case ctx.Err() != nil:
		return false, ctx.Err()
	case v.err != nil: // the download failed or did not match: nothing was stored
		return false, a.failed(ctx, cfg, t, v.err, st)
	default:
		a.storageFailed(perr)
		return false, fmt.Errorf("%w: %w", ErrStorageDown, perr)
	}
	a.storageWorked()
	out.State, out.ObjectKey, out.ContentType, out.Size = store.RecordingArchived, key, ctype, v.n
	out.SHA256 = v.sha.Sum(nil)
	if secs, ok := wavSeconds(v.head, v.n); ok {
		out.Duration = &secs
	} else {
		out.Duration = t.RecordingDuration
	}
	st.Archived++
	st.Bytes += v.n
	a.Logger.Debug("recording archived", callIDAttr(t.CallID), "bytes", v.n)
	return false, a.settle(ctx, out, key)
}

// tokenPace is how often a run that waits for the budget asks it again.
const tokenPace = time.Second

// take takes a token of the budget, waiting for one until deadline while
// Yield does not end the run. It reports whether it took one.
func (a *Archiver) take(ctx context.Context, deadline time.Time) bool {
	for {
		if a.Budget.TryTake(ctx) {
			return true
		}
		if !a.now().Add(tokenPace).Before(deadline) || (a.Yield != nil && a.Yield()) {
			return false
		}
		// Pacing, not synchronisation: the budget refills with time.
		if sleep(ctx, tokenPace) != nil {
			return false
		}
	}
}

// linkFailed records what the API said instead of a link.
func (a *Archiver) linkFailed(ctx context.Context, cfg ArchiveConfig, t store.RecordingTask, err error, st *ArchiveStats) (bool, error) {
	out := store.RecordingOutcome{CallID: t.CallID, Attempt: true}
	age := a.now().Sub(t.StartedAt)
	var se *api.StatusError
	switch {
	case ctx.Err() != nil:
		return false, ctx.Err()
	case errors.Is(err, api.ErrRateLimited):
		if errors.As(err, &se) {
			a.Budget.Throttled(ctx, se.RetryAfter)
		}
		return true, nil
	case errors.Is(err, api.ErrUnauthorized):
		return false, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	case errors.Is(err, api.ErrWrongURL), errors.Is(err, api.ErrUnreachable):
		return false, fmt.Errorf("%w: %w", ErrAPIUnavailable, err)
	case errors.Is(err, api.ErrRecordingGone):
		out.State, st.Gone = store.RecordingGone, st.Gone+1
	case errors.Is(err, api.ErrNoRecording) && cfg.UpstreamRetention > 0 && age > cfg.UpstreamRetention:
		out.State, st.Gone = store.RecordingGone, st.Gone+1
	case errors.Is(err, api.ErrNoRecording):
		// Undocumented: a 404 may also mean "not yet". Ask again twice
		// while the call is young, an hour and then six hours later.
		out.State, st.None = store.RecordingNone, st.None+1
		if t.Attempts < 2 && age < 48*time.Hour {
			out.NextTry = a.now().Add(time.Hour * time.Duration(1+5*t.Attempts))
		}
	case errors.Is(err, api.ErrRecordingNotReady):
		out.State, st.Processing = store.RecordingProcessing, st.Processing+1
		delay := pollDelay(Backoff{Base: time.Minute, Max: time.Hour}, t.Attempts)
		if errors.As(err, &se) && se.RetryAfter > 0 {
			delay = se.RetryAfter
		}
		out.NextTry = a.now().Add(delay)
		if t.Attempts+1 >= 4*cfg.MaxAttempts {
			out.State, out.NextTry, out.Error = store.RecordingError, store.Never, "still processing after many attempts"
		}
	default:
		return false, a.failed(ctx, cfg, t, err, st)
	}
	return false, a.settle(ctx, out, "")
}

// failed records a failed attempt, to be tried again after a backoff or,
// after MaxAttempts, given up.
func (a *Archiver) failed(ctx context.Context, cfg ArchiveConfig, t store.RecordingTask, err error, st *ArchiveStats) error {
	st.Failed++
	out := store.RecordingOutcome{CallID: t.CallID, State: store.RecordingError, Attempt: true, Error: Config{Redact: a.Redact}.oneLine(err.Error())}
	if t.Attempts+1 < cfg.MaxAttempts {
		out.NextTry = a.now().Add(cfg.Retry.Delay(t.Attempts + 1))
	}
	a.Logger.Warn("recording not archived", callIDAttr(t.CallID), attemptAttr(t.Attempts+1), errAttr(err))
	return a.settle(ctx, out, "")
}

// settle records an outcome. When the row was erased meanwhile (forget,
// retention), the object just stored (key) is deleted at once.
func (a *Archiver) settle(ctx context.Context, out store.RecordingOutcome, key string) error {
	ctx = context.WithoutCancel(ctx)
	err := a.Queue.SettleRecording(ctx, out)
	if errors.Is(err, store.ErrNotFound) {
		if key != "" {
			if derr := a.Objects.Delete(ctx, key); derr != nil {
				return fmt.Errorf("%w: delete the recording of %s, erased while it was archived: %w", ErrStorageDown, out.CallID, derr)
			}
		}
		return nil
	}
	return err
}

// deleteMarked deletes the objects that forget and retention marked.
func (a *Archiver) deleteMarked(ctx context.Context, st *ArchiveStats) error {
	for {
		objs, err := a.Deletions.RecordingsToDelete(ctx, 100)
		if err != nil || len(objs) == 0 {
			return err
		}
		for _, o := range objs {
			if err := a.Objects.Delete(ctx, o.Key); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				a.storageFailed(err)
				return fmt.Errorf("%w: %w", ErrStorageDown, err)
			}
			a.storageWorked()
			if err := a.Deletions.RecordingDeleted(ctx, o.CallID, o.Key); err != nil {
				return err
			}
			st.Deleted++
		}
	}
}

// DeleteMarkedRecordings deletes the objects that forget and retention
// marked for deletion, for the commands that erase (forget, prune), and
// returns how many it deleted.
func DeleteMarkedRecordings(ctx context.Context, d RecordingDeletions, objects ObjectStore) (int, error) {
	a := &Archiver{Deletions: d, Objects: objects}
	var st ArchiveStats
	err := a.deleteMarked(ctx, &st)
	return st.Deleted, err
}

// storageFailed pauses archiving: 30 s, doubling while failures go on, up to
// 10 min.
func (a *Archiver) storageFailed(err error) {
	a.mu.Lock()
	first := a.pause == 0
	a.pause = min(max(2*a.pause, 30*time.Second), 10*time.Minute)
	a.pauseUntil = a.now().Add(a.pause)
	pause := a.pause
	a.mu.Unlock()
	if a.StorageUp != nil {
		a.StorageUp(false)
	}
	if first && a.Logger != nil {
		a.Logger.Warn("recordings storage unavailable; archiving paused, the sync goes on", "pause", pause, errAttr(err))
	}
}

func (a *Archiver) storageWorked() {
	a.mu.Lock()
	was := a.pause
	a.pause, a.pauseUntil = 0, time.Time{}
	a.mu.Unlock()
	if a.StorageUp != nil {
		a.StorageUp(true)
	}
	if was > 0 && a.Logger != nil {
		a.Logger.Info("recordings storage available again; archiving resumes")
	}
}

func (a *Archiver) pausedUntil() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pauseUntil
}

func (a *Archiver) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// ObjectKey is where a call's recording is archived: the call's UTC start
// date and its id, so that keys sort by date and hold no personal data.
func ObjectKey(started time.Time, callID, contentType string) string {
	d := started.UTC()
	return fmt.Sprintf("%04d/%02d/%02d/%s.%s", d.Year(), d.Month(), d.Day(), url.PathEscape(callID), extension(contentType))
}

// contentType cleans a served content type: its media type, or
// application/octet-stream.
func contentType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || len(mt) > 100 {
		return "application/octet-stream"
	}
	return mt
}

func extension(ct string) string {
	switch strings.ToLower(ct) {
	case "audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave":
		return "wav"
	case "audio/mpeg", "audio/mp3":
		return "mp3"
	case "audio/ogg", "audio/opus":
		return "ogg"
	case "audio/webm":
		return "webm"
	case "audio/mp4", "audio/x-m4a", "audio/aac":
		return "m4a"
	case "audio/flac", "audio/x-flac":
		return "flac"
	}
	return "bin"
}
