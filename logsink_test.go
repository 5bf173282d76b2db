package cutover_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/cutover/cutover"
)

type order2 struct {
	ID    int
	Items []item2
}

type item2 struct{ Price int }

func TestLogSinkWritesOneStructuredLinePerDiscrepancy(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	m, _ := newMigration(t, cutover.ModeShadow, func(c *cutover.Config) {
		c.Sinks = []cutover.Sink{&cutover.LogSink{Logger: logger, MaxDiffs: 1}}
	})
	r := &cutover.Reader[int, order2]{Migration: m, Operation: "getOrder",
		Old: func(ctx context.Context, id int) (order2, error) {
			return order2{id, []item2{{100}, {200}, {300}, {400}}}, nil
		},
		New: func(ctx context.Context, id int) (order2, error) {
			return order2{id, []item2{{100}, {201}, {300}, {401}}}, nil
		},
	}
	r.Read(context.Background(), "order-7", 7)
	match := &cutover.Reader[int, int]{Migration: m, Operation: "same",
		Old: func(ctx context.Context, id int) (int, error) { return id, nil },
		New: func(ctx context.Context, id int) (int, error) { return id, nil },
	}
	match.Read(context.Background(), "order-8", 8) // a match logs at Debug: not shown at Info
	drain(t, m)

	var line struct {
		Level, Msg, Key, Outcome, Signature, Operation string
		Diffs                                          []string
		DiffCount                                      int `json:"diff_count"`
	}
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 1 {
		t.Fatalf("log has %d lines; want 1 (the mismatch): %s", len(lines), buf.String())
	}
	if err := json.Unmarshal(lines[0], &line); err != nil {
		t.Fatal(err)
	}
	if line.Level != "WARN" || line.Key != "order-7" || line.Outcome != "mismatch" || line.Operation != "getOrder" ||
		line.Signature != ".Items[*].Price" || line.DiffCount != 2 || len(line.Diffs) != 1 ||
		line.Diffs[0] != ".Items[1].Price: 200 != 201" {
		t.Errorf("log line = %+v", line)
	}
}
