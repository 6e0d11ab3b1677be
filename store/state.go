package store

// State is the state of a queue row, the value of sync_queue.state (a
// CHECK constraint holds it to the four below).
//
// The queue is a state machine. Every transition is one SQL statement of
// this package, named in the table; a row changes state nowhere else.
// "Due now" sets next_attempt_at = now(). A row holds a lease (lease_token,
// locked_until) only while it is running.
//
//	from     to       method (statement)           when, and what else changes
//	-------  -------  ---------------------------  ----------------------------------------------
//	(none)   pending  Enqueue, EnqueueNew,         the call id is new to the queue and not erased;
//	                  EnqueueHook                  due now, attempts 0, polls 0
//	pending  running  Claim                        due (next_attempt_at <= now()); a due suspect
//	                                               row first and alone, else up to limit rows,
//	                                               oldest due first; takes a lease, clears requeue
//	running  done     Complete                     the outcome says done (stored, status final or
//	                                               past the maximum poll age) and requeue is unset
//	running  pending  Complete                     the outcome says pending: a retry after a
//	                                               failed attempt (Attempt), a poll of a status
//	                                               not final (Poll), a rate-limit pause (neither);
//	                                               due after Outcome.Delay
//	running  pending  Complete (requeue)           the call was enqueued again while running
//	                                               (Enqueue, EnqueueHook set requeue): pending and
//	                                               due now, whatever the outcome said; attempts
//	                                               and polls still count
//	running  failed   Complete                     the outcome says failed: attempts used up, or
//	                                               the database refused the call (sync's choice)
//	running  pending  Complete (unchanged, stale)  an Outcome.UnchangedHash whose stored call changed
//	                                               or is gone since the claim: settled, then put
//	                                               back pending, due now, its poll taken back
//	running  running  Complete (rejected)          the database refused the call's values: row
//	                                               left running under the lease (see Rejected)
//	running  pending  Release                      given back under the lease (shutdown, an error
//	                                               not the call's fault): due now, no attempt
//	running  pending  RescueExpired                the lease expired (worker gone): counts the
//	                                               lost attempt, marks the row suspect, due now
//	running  failed   RescueExpired                as above, when that attempt was the last one
//	running  running  Enqueue, EnqueueHook         sets requeue (see Complete above); nothing else
//	pending  pending  Enqueue                      due now
//	pending  pending  EnqueueHook                  outside the cooldown: due at the earlier of
//	                                               now and its next attempt
//	done     pending  Enqueue                      due now, attempts and polls reset
//	done     pending  EnqueueHook                  outside the cooldown: due now, attempts and
//	                                               polls reset
//	failed   pending  Enqueue                      due now, attempts and polls reset
//	failed   pending  EnqueueHook                  outside the cooldown: due now, attempts and
//	                                               polls kept (one more try)
//	failed   pending  RetryFailed                  matching the filters: due now, attempts reset,
//	                                               last_bad_body cleared, last_error kept
//	any      (none)   Forget                       the call is erased: its row is deleted and the
//	                                               id tombstoned, so no method above queues it
//	                                               again
//	running  (none)   Complete (erased)            the call was erased while claimed: the row is
//	                                               deleted, the call not written
//
// EnqueueNew leaves a row that exists alone, whatever its state. Within
// its cooldown (the row's updated_at is that recent) EnqueueHook changes
// nothing. Complete and Release change only rows still running under the
// caller's lease token; a row whose lease was lost is left alone.
type State string

// The queue states.
const (
	// StatePending waits until next_attempt_at, then can be claimed.
	StatePending State = "pending"
	// StateRunning is claimed by a worker, under a lease until locked_until.
	StateRunning State = "running"
	// StateDone is stored with a final status (or kept as it was after the
	// maximum poll age).
	StateDone State = "done"
	// StateFailed gave up: attempts used up, or the call refused; see
	// last_error.
	StateFailed State = "failed"
)
