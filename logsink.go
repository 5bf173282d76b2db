package cutover

import (
	"context"
	"log/slog"
)

// LogSink is a [Sink] that writes observations to a [slog.Logger]: matches
// at Debug, mismatches, errors, timeouts, fallbacks and shed calls at Warn,
// divergences at Error. Values go out only as the observation carries them,
// after [Config].Redact.
type LogSink struct {
	Logger *slog.Logger
	// MaxDiffs bounds the differing paths logged per mismatch. Zero: 5.
	MaxDiffs int
}

// NewLogSink returns a sink that logs to logger (slog.Default() if nil).
func NewLogSink(logger *slog.Logger) *LogSink {
	if logger == nil {
		logger = slog.Default()
	}
	return &LogSink{Logger: logger}
}

func logLevel(o Outcome) slog.Level {
	switch o {
	case OutcomeMatch:
		return slog.LevelDebug
	case OutcomeDivergence:
		return slog.LevelError
	default:
		return slog.LevelWarn
	}
}

// Enabled asks the logger whether the outcome's level is enabled.
func (s *LogSink) Enabled(o Outcome) bool {
	return s.Logger.Enabled(context.Background(), logLevel(o))
}

// Observe logs one line for o.
func (s *LogSink) Observe(ctx context.Context, o *Observation) {
	attrs := make([]slog.Attr, 0, 12)
	attrs = append(attrs,
		slog.String("migration", o.Migration),
		slog.String("operation", o.Operation),
		slog.String("kind", o.Kind.String()),
		slog.String("mode", o.Mode.String()),
		slog.String("key", o.Key),
		slog.String("outcome", o.Outcome.String()),
		slog.Duration("old_duration", o.Old.Duration),
		slog.Duration("new_duration", o.New.Duration),
	)
	if o.Signature != "" {
		attrs = append(attrs, slog.String("signature", o.Signature))
	}
	if o.Old.Err != nil {
		attrs = append(attrs, slog.String("old_error", o.Old.Err.Error()))
	}
	if o.New.Err != nil {
		attrs = append(attrs, slog.String("new_error", o.New.Err.Error()))
	}
	if len(o.Diffs) > 0 {
		max := s.MaxDiffs
		if max <= 0 {
			max = 5
		}
		shown := o.Diffs
		if len(shown) > max {
			shown = shown[:max]
		}
		lines := make([]string, len(shown))
		for i, d := range shown {
			lines[i] = d.String()
		}
		attrs = append(attrs, slog.Any("diffs", lines), slog.Int("diff_count", len(o.Diffs)))
	}
	s.Logger.LogAttrs(ctx, logLevel(o.Outcome), "cutover: "+o.Outcome.String(), attrs...)
}
