package sync

import (
	"math/rand/v2"
	"time"
)

// Backoff computes retry delays: exponential with full jitter, so that
// calls that failed together do not come back together.
type Backoff struct {
	// Base is the ceiling of the first delay.
	Base time.Duration
	// Max caps the ceiling.
	Max time.Duration
}

// ceiling returns the largest delay after the n-th failure (n ≥ 1):
// Base·2^(n-1), at most Max.
func (b Backoff) ceiling(n int) time.Duration {
	d := b.Base
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Delay returns a delay drawn uniformly from [0, ceiling(n)].
func (b Backoff) Delay(n int) time.Duration {
	c := b.ceiling(n)
	if c <= 0 {
		return 0
	}
	return rand.N(c + 1)
}

// pollDelay returns how long to wait before fetching again a call whose
// status is not final, after polls earlier re-fetches: Base·2^polls, at most
// Max, without jitter (these are not failures and do not come in bursts).
func pollDelay(b Backoff, polls int) time.Duration {
	return b.ceiling(polls + 1)
}
