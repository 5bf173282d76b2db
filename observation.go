package cutover

import (
	"fmt"
	"time"

	"github.com/cutover/cutover/diff"
)

// Outcome is what a compared call, or a write, came to.
type Outcome uint8

// Outcomes. Every observation has exactly one.
const (
	// OutcomeMatch: both sides ran and agreed (values equal, or errors equal
	// under the migration's [ErrorRule]).
	OutcomeMatch Outcome = iota
	// OutcomeMismatch: both sides ran and disagreed: different values, or
	// errors the [ErrorRule] calls different.
	OutcomeMismatch
	// OutcomeError: exactly one side failed (returned an error or panicked).
	OutcomeError
	// OutcomeTimeout: the secondary side did not finish within its deadline.
	OutcomeTimeout
	// OutcomeFallback: in reverse-shadow, new failed and the caller got old's
	// result instead.
	OutcomeFallback
	// OutcomeShed: the secondary side was not run because the bound on
	// in-flight secondary work was reached.
	OutcomeShed
	// OutcomeDivergence: a write succeeded on the authoritative side and
	// failed on the other; the stores now differ at Key and need repair.
	OutcomeDivergence
)

// Outcomes lists every outcome, for metrics that pre-create their labels.
var Outcomes = [...]Outcome{OutcomeMatch, OutcomeMismatch, OutcomeError, OutcomeTimeout,
	OutcomeFallback, OutcomeShed, OutcomeDivergence}

var outcomeNames = [...]string{"match", "mismatch", "error", "timeout", "fallback", "shed", "divergence"}

// String returns the outcome's name, such as "match" or "divergence".
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// ParseOutcome parses an outcome name as written by [Outcome.String].
func ParseOutcome(s string) (Outcome, error) {
	for i, n := range outcomeNames {
		if s == n {
			return Outcome(i), nil
		}
	}
	return 0, fmt.Errorf("unknown outcome %q: want one of match, mismatch, error, timeout, fallback, shed, divergence", s)
}

// MarshalText encodes the outcome as its name.
// Valid reports whether o is one of the outcomes listed in [Outcomes].
func (o Outcome) Valid() bool { return int(o) < len(outcomeNames) }

func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText decodes an outcome name.
func (o *Outcome) UnmarshalText(b []byte) error {
	v, err := ParseOutcome(string(b))
	*o = v
	return err
}

// Kind tells reads from writes.
type Kind uint8

// Kinds of call.
const (
	KindRead Kind = iota
	KindWrite
)

// String returns "read" or "write".
func (k Kind) String() string {
	if k == KindWrite {
		return "write"
	}
	return "read"
}

// Side is what one side of a call did.
type Side struct {
	// Ran is false when the side did not run (shed, sampled out, or skipped
	// because the authoritative write failed).
	Ran bool
	// Duration is how long the side's function took.
	Duration time.Duration
	// Err is the error it returned, a [*PanicError] if it panicked, or the
	// context error if it ran past its deadline.
	Err error
}

// Failed reports whether the side ran and failed.
func (s Side) Failed() bool { return s.Ran && s.Err != nil }

// Observation is the record of one compared call or dual write. The library
// builds it off the caller's path and hands it to every [Sink].
//
// An Observation and the slices it holds are shared by all sinks and must be
// treated as read-only; a sink that keeps one past Observe keeps a pointer,
// which is safe because nothing writes to it afterwards.
type Observation struct {
	Migration string
	Operation string
	Kind      Kind
	Mode      Mode
	Key       string
	Time      time.Time // when the call started
	Old, New  Side
	Outcome   Outcome
	// Diffs lists the differing paths of a mismatch, values already redacted.
	Diffs []diff.Difference
	// Signature groups mismatches by the paths that differ, with indices and
	// map keys collapsed: ".Items[*].Price". For an error outcome it names
	// the failing side ("error:new"); for other outcomes it is empty.
	Signature string
}

// PanicError is the error recorded for a side that panicked. The library
// recovers panics only on the secondary side and where it must fall back;
// on the primary side of [ModeOld], [ModeShadow] and [ModeNew] a panic
// reaches the caller untouched.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the goroutine's stack at the panic
}

func (p *PanicError) Error() string { return fmt.Sprintf("panic: %v", p.Value) }
