package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	callsync "github.com/callsync/callsync/sync"
)

// Redraw and log intervals of the progress display.
const (
	barInterval = 200 * time.Millisecond
	logInterval = 5 * time.Second
	barWidth    = 24
)

// progress shows a backfill's progress: a bar redrawn in place on a
// terminal, otherwise a log line every few seconds.
type progress struct {
	what   string // the command: "backfill", "verify"
	w      io.Writer
	logger *slog.Logger
	tty    bool
	now    func() time.Time
	start  time.Time
	last   time.Time // last draw or log line
	cur    callsync.BackfillProgress
}

// newProgress returns a progress display writing to w (a bar when w is a
// terminal) or logging to logger.
func newProgress(what string, w io.Writer, logger *slog.Logger) *progress {
	p := &progress{what: what, w: w, logger: logger, tty: isTerminal(w), now: time.Now}
	p.start = p.now()
	p.last = p.start
	return p
}

// update takes the latest state and shows it when it is time to.
func (p *progress) update(s callsync.BackfillProgress) {
	p.cur = s
	now := p.now()
	switch {
	case p.tty && now.Sub(p.last) >= barInterval:
		p.draw(now)
	case !p.tty && now.Sub(p.last) >= logInterval:
		p.log(now)
	default:
		return
	}
	p.last = now
}

// finish shows the final state and ends the bar's line.
func (p *progress) finish() {
	now := p.now()
	if p.tty {
		p.draw(now)
		fmt.Fprintln(p.w)
		return
	}
	if p.cur.Windows > 0 {
		p.log(now)
	}
}

func (p *progress) draw(now time.Time) {
	fmt.Fprintf(p.w, "\r\x1b[K%s", p.line(now))
}

func (p *progress) log(now time.Time) {
	s := p.cur
	rate, eta := p.rates(now)
	attrs := []any{"windows_done", s.Done, "windows", s.Windows, "calls", s.Calls, "requests", s.Requests,
		"calls_per_second", fmt.Sprintf("%.1f", rate)}
	if eta >= 0 {
		attrs = append(attrs, "eta", eta.Round(time.Second))
	}
	if s.Current.ModelID != "" {
		attrs = append(attrs, "model_id", s.Current.ModelID, "window", fmtTime(s.Current.From))
	}
	p.logger.Info(p.what+" progress", attrs...)
}

// line renders the bar: windows, calls, calls per second and ETA.
func (p *progress) line(now time.Time) string {
	s := p.cur
	filled := 0
	if s.Windows > 0 {
		filled = s.Done * barWidth / s.Windows
	}
	bar := strings.Repeat("█", filled) + strings.Repeat("░", barWidth-filled)
	rate, eta := p.rates(now)
	etaText := "--"
	if eta >= 0 {
		etaText = eta.Round(time.Second).String()
	}
	return fmt.Sprintf("%s %d/%d windows  %d calls  %.1f calls/s  %d requests  ETA %s",
		bar, s.Done, s.Windows, s.Calls, rate, s.Requests, etaText)
}

// rates returns calls per second so far and the time left, estimated from
// the windows read in this run (skipped ones take no time); -1 when there
// is nothing to estimate from yet.
func (p *progress) rates(now time.Time) (perSecond float64, eta time.Duration) {
	s := p.cur
	elapsed := now.Sub(p.start)
	if elapsed > 0 {
		perSecond = float64(s.Calls) / elapsed.Seconds()
	}
	read := s.Done - s.Skipped
	if read <= 0 {
		return perSecond, -1
	}
	left := s.Windows - s.Done
	return perSecond, time.Duration(float64(elapsed) / float64(read) * float64(left))
}
