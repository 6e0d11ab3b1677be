package main

import (
	"time"

	callsync "github.com/callsync/callsync/sync"
)

// listIntakeConfig holds how the commands that store calls from list
// pages (backfill, verify --fix, poll) store them: which calls to queue
// for a fetch, and phone pseudonyms.
type listIntakeConfig struct {
	maxPollAge time.Duration
	hash       hashConfig
}

// register registers the flags; prefix starts --max-poll-age's usage,
// for a command that stores calls only in one of its modes.
func (c *listIntakeConfig) register(f *flagSet, prefix string) {
	f.durationVar(&c.maxPollAge, "max-poll-age", "SYNC_MAX_POLL_AGE", callsync.DefaultConfig().MaxPollAge,
		prefix+"a call whose status is not final is queued for a fetch only if it started less than this long ago")
	c.hash.register(f)
}

// config returns the settings as callsync wants them.
func (c *listIntakeConfig) config() (callsync.IntakeConfig, error) {
	hasher, err := c.hash.hasher()
	if err != nil {
		return callsync.IntakeConfig{}, err
	}
	return callsync.IntakeConfig{MaxPollAge: c.maxPollAge, HashPhones: hasher}, nil
}
