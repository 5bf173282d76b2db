package cutover_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cutover/cutover"
)

func TestParseMode(t *testing.T) {
	for in, want := range map[string]cutover.Mode{
		"old": cutover.ModeOld, "SHADOW": cutover.ModeShadow, " Reverse-Shadow ": cutover.ModeReverseShadow, "new": cutover.ModeNew,
	} {
		got, err := cutover.ParseMode(in)
		if err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", in, got, err, want)
		}
		if got.String() != strings.ToLower(strings.TrimSpace(in)) {
			t.Errorf("%v.String() = %q", got, got.String())
		}
	}
	for _, in := range []string{"", "reverse_shadow", "reverseshadow", "shadow2", "legacy", "0"} {
		_, err := cutover.ParseMode(in)
		if !errors.Is(err, cutover.ErrInvalidMode) {
			t.Errorf("ParseMode(%q) error = %v; want ErrInvalidMode", in, err)
			continue
		}
		for _, name := range []string{"old", "shadow", "reverse-shadow", "new"} {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("ParseMode(%q) error %q does not name the valid value %q", in, err, name)
			}
		}
	}
}

func TestCheckTransition(t *testing.T) {
	for _, from := range cutover.Modes {
		for _, to := range cutover.Modes {
			d := int(to) - int(from)
			err := cutover.CheckTransition(from, to, false)
			if (d >= -1 && d <= 1) != (err == nil) {
				t.Errorf("CheckTransition(%v, %v, false) = %v", from, to, err)
			}
			if err != nil && !errors.Is(err, cutover.ErrTransitionJump) {
				t.Errorf("CheckTransition(%v, %v) error %v is not ErrTransitionJump", from, to, err)
			}
			if err := cutover.CheckTransition(from, to, true); err != nil {
				t.Errorf("forced CheckTransition(%v, %v) = %v", from, to, err)
			}
		}
	}
	if err := cutover.CheckTransition(cutover.ModeOld, cutover.ModeNew, false); err == nil ||
		!strings.Contains(err.Error(), "shadow") {
		t.Errorf("jump error = %v; want it to name the next step", err)
	}
	if cutover.ModeShadow.Next() != cutover.ModeReverseShadow || cutover.ModeShadow.Prev() != cutover.ModeOld ||
		cutover.ModeNew.Next() != cutover.ModeNew || cutover.ModeOld.Prev() != cutover.ModeOld {
		t.Error("Next/Prev")
	}
}
