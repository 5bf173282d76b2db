package cutover

import (
	"errors"
	"fmt"
	"strings"
)

// Mode is the phase a migration is in. It decides which side runs on the
// caller's path, which side runs beside it, and whose result the caller gets.
//
// The zero value is [ModeOld], so an unset mode is the safe legacy baseline.
type Mode uint8

// The four modes, in the order a migration moves through them.
const (
	// ModeOld runs only the old side. The toolkit is invisible.
	ModeOld Mode = iota
	// ModeShadow runs old on the caller's path and new beside it; the caller
	// gets old's result as soon as old is done, and the two are compared.
	ModeShadow
	// ModeReverseShadow runs new on the caller's path and old beside it; the
	// caller gets new's result, or old's when new fails and fallback is on.
	ModeReverseShadow
	// ModeNew runs only the new side. The toolkit is invisible.
	ModeNew
)

// Modes lists every mode in promotion order.
var Modes = [...]Mode{ModeOld, ModeShadow, ModeReverseShadow, ModeNew}

var modeNames = [...]string{"old", "shadow", "reverse-shadow", "new"}

// String returns the mode's canonical name: "old", "shadow",
// "reverse-shadow" or "new".
func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Valid reports whether m is one of the four modes.
func (m Mode) Valid() bool { return int(m) < len(modeNames) }

// Compares reports whether calls in this mode run both sides and compare them.
func (m Mode) Compares() bool { return m == ModeShadow || m == ModeReverseShadow }

// ErrInvalidMode is returned (wrapped) by [ParseMode] for an unknown name.
var ErrInvalidMode = errors.New("invalid mode")

// ParseMode parses a mode name, ignoring case and surrounding space. It
// accepts exactly "old", "shadow", "reverse-shadow" and "new".
func ParseMode(s string) (Mode, error) {
	t := strings.TrimSpace(s)
	for i, name := range modeNames {
		if strings.EqualFold(t, name) {
			return Mode(i), nil
		}
	}
	return ModeOld, fmt.Errorf("%w %q: want one of old, shadow, reverse-shadow, new", ErrInvalidMode, s)
}

// MarshalText encodes the mode as its name, so modes read well in JSON.
func (m Mode) MarshalText() ([]byte, error) {
	if !m.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrInvalidMode, uint8(m))
	}
	return []byte(m.String()), nil
}

// UnmarshalText decodes a mode name with [ParseMode].
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// ErrTransitionJump is returned (wrapped) by [CheckTransition] when a move
// skips a mode and was not forced.
var ErrTransitionJump = errors.New("transition skips a mode")

// CheckTransition reports whether a migration may move from one mode to
// another. Moves go one step at a time (old ↔ shadow ↔ reverse-shadow ↔
// new), forward or back; staying in the same mode is allowed. A move that
// skips a mode is refused with [ErrTransitionJump] unless force is true; the
// caller is expected to demand and audit a reason for a forced move.
func CheckTransition(from, to Mode, force bool) error {
	if !from.Valid() {
		return fmt.Errorf("%w: from %d", ErrInvalidMode, uint8(from))
	}
	if !to.Valid() {
		return fmt.Errorf("%w: to %d", ErrInvalidMode, uint8(to))
	}
	d := int(to) - int(from)
	if d >= -1 && d <= 1 || force {
		return nil
	}
	step := from.Next()
	if d < 0 {
		step = from.Prev()
	}
	return fmt.Errorf("%w: %s → %s moves %d steps; go through %s first, or force it with a reason",
		ErrTransitionJump, from, to, max(d, -d), step)
}

// Next returns the mode one step forward, or m itself at [ModeNew].
func (m Mode) Next() Mode {
	if m >= ModeNew {
		return ModeNew
	}
	return m + 1
}

// Prev returns the mode one step back, or m itself at [ModeOld].
func (m Mode) Prev() Mode {
	if m == ModeOld || !m.Valid() {
		return ModeOld
	}
	return m - 1
}
