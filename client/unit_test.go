package client

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/diff"
)

func TestSSEReader(t *testing.T) {
	stream := ": hello\n\n" +
		"id: 7\nevent: rollout\ndata: {\"a\":1}\n\n" +
		"retry: 1500\n" +
		"data: line1\r\ndata:line2\n\n" +
		"event: ping\n\n" + // no data: not dispatched
		"id: 9\nevent: rollout\ndata: x\n\n" +
		"data: unterminated"
	var comments int
	r := newSSEReader(strings.NewReader(stream))
	r.onComment = func() { comments++ }
	want := []sseEvent{
		{ID: "7", HasID: true, Type: "rollout", Data: []byte(`{"a":1}`)},
		{ID: "7", Type: "message", Data: []byte("line1\nline2")},
		{ID: "9", HasID: true, Type: "rollout", Data: []byte("x")},
	}
	for i, w := range want {
		ev, err := r.next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if ev.ID != w.ID || ev.HasID != w.HasID || ev.Type != w.Type || string(ev.Data) != string(w.Data) {
			t.Errorf("event %d = %+v (data %q), want %+v (data %q)", i, ev, ev.Data, w, w.Data)
		}
	}
	if _, err := r.next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the last event: %v, want EOF (an unterminated event is not dispatched)", err)
	}
	if comments != 1 || r.retry != 1500*time.Millisecond {
		t.Errorf("comments %d retry %v", comments, r.retry)
	}
}

func TestCacheRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rollouts.json")
	got, err := readCache(path)
	if err != nil || len(got) != 0 {
		t.Fatalf("missing cache: %v %v, want empty and no error", got, err)
	}
	entries := map[string]cachedEntry{
		"orders": {Rollout: cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeReverseShadow, Percent: 12.5,
			Overrides: map[string]cutover.Mode{"tenant-1": cutover.ModeNew}}, Version: 4},
	}
	if err := writeCache(path, "http://x", entries, time.Now()); err != nil {
		t.Fatal(err)
	}
	got, err = readCache(path)
	if err != nil {
		t.Fatal(err)
	}
	if g := got["orders"]; g.Version != 4 || !g.Rollout.Equal(entries["orders"].Rollout) {
		t.Errorf("read back %+v", g)
	}
	// No temporary files left behind.
	files, _ := os.ReadDir(filepath.Dir(path))
	if len(files) != 1 {
		t.Errorf("directory holds %d files, want only the cache", len(files))
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readCache(path); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Errorf("corrupt cache: %v, want an error that says what to do", err)
	}
	if err := os.WriteFile(path, []byte(`{"format":1,"migrations":{"x":{"rollout":{"mode":"old","treatment":"old","percent":300}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readCache(path); err == nil {
		t.Error("a cache with an invalid rollout was accepted")
	}
}

func TestWriteCacheUnwritableDir(t *testing.T) {
	err := writeCache(filepath.Join(t.TempDir(), "no", "such", "dir", "c.json"), "", nil, time.Now())
	if err == nil || !strings.Contains(err.Error(), "writable") {
		t.Errorf("err = %v", err)
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, 3*time.Second
	for n := 0; n < 40; n++ {
		want := lo << min(n, 20)
		if want > hi || want <= 0 {
			want = hi
		}
		for range 20 {
			d := backoff(n, lo, hi)
			if d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, d, want/2, want)
			}
		}
	}
}

func TestAggregator(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := newAggregator(limits{maxGroups: 2, maxSamples: 2, maxDiffs: 1}, start)
	obs := func(outcome cutover.Outcome, sig string, mode cutover.Mode, key string) *cutover.Observation {
		o := &cutover.Observation{
			Migration: "orders", Operation: "get", Kind: cutover.KindRead, Mode: mode, Key: key, Time: start,
			Old:     cutover.Side{Ran: true, Duration: 2 * time.Millisecond},
			New:     cutover.Side{Ran: true, Duration: 3 * time.Millisecond},
			Outcome: outcome, Signature: sig,
		}
		switch outcome {
		case cutover.OutcomeMismatch:
			o.Diffs = []diff.Difference{{Path: ".A", Old: "1", New: "2"}, {Path: ".B", Old: "1", New: "2"}}
		case cutover.OutcomeError:
			o.New.Err = errors.New("boom")
		case cutover.OutcomeShed:
			o.New = cutover.Side{}
		}
		return o
	}
	a.add(obs(cutover.OutcomeMatch, "", cutover.ModeShadow, "k1"))
	early := obs(cutover.OutcomeMatch, "", cutover.ModeShadow, "k2")
	early.Time = start.Add(-time.Second) // the aggregate starts at its earliest call
	a.add(early)
	for i := range 3 {
		a.add(obs(cutover.OutcomeMismatch, ".A", cutover.ModeShadow, "m"+string(rune('0'+i))))
	}
	a.add(obs(cutover.OutcomeError, "error:new", cutover.ModeShadow, "e"))
	a.add(obs(cutover.OutcomeMismatch, ".Z", cutover.ModeShadow, "z")) // third signature: over maxGroups
	a.add(obs(cutover.OutcomeShed, "", cutover.ModeShadow, "s"))
	a.add(obs(cutover.OutcomeMatch, "", cutover.ModeReverseShadow, "r"))

	end := start.Add(10 * time.Second)
	aggs := a.aggregates(end)
	if len(aggs) != 2 {
		t.Fatalf("%d aggregates, want 2 (one per mode)", len(aggs))
	}
	var sh api.Aggregate
	for _, g := range aggs {
		if g.Mode == cutover.ModeShadow {
			sh = g
		}
	}
	if sh.Kind != "read" || !sh.Start.Equal(start.Add(-time.Second)) || !sh.End.Equal(end) {
		t.Errorf("aggregate header %+v", sh)
	}
	wantCounts := map[cutover.Outcome]int64{cutover.OutcomeMatch: 2, cutover.OutcomeMismatch: 4, cutover.OutcomeError: 1, cutover.OutcomeShed: 1}
	for o, n := range wantCounts {
		if sh.Counts[o] != n {
			t.Errorf("count %v = %d, want %d", o, sh.Counts[o], n)
		}
	}
	if sh.NewErrors != 1 || sh.OldErrors != 0 {
		t.Errorf("errors old %d new %d", sh.OldErrors, sh.NewErrors)
	}
	if len(sh.Groups) != 2 || sh.Groups[0].Signature != ".A" || sh.Groups[0].Count != 3 || len(sh.Groups[0].Samples) != 2 {
		t.Fatalf("groups %+v", sh.Groups)
	}
	if s := sh.Groups[0].Samples[0]; s.Key != "m0" || len(s.Diffs) != 1 || s.Diffs[0].Path != ".A" {
		t.Errorf("sample %+v", s)
	}
	if g := sh.Groups[1]; g.Outcome != cutover.OutcomeError || g.Samples[0].NewError != "boom" {
		t.Errorf("error group %+v", g)
	}
	if a.droppedGroups != 1 || a.observed != 9 {
		t.Errorf("dropped groups %d observed %d", a.droppedGroups, a.observed)
	}
	for side, b := range map[string][]byte{"old": sh.OldLatency, "new": sh.NewLatency} {
		sk, err := api.DecodeSketch(b)
		if err != nil {
			t.Fatalf("%s latency: %v", side, err)
		}
		// Every side that ran: 8 shadow observations, the shed one
		// without new.
		want := 8.0
		if side == "new" {
			want = 7
		}
		if sk.Count() != want {
			t.Errorf("%s latency holds %v values, want %v", side, sk.Count(), want)
		}
	}
	// The batch encodes as the API expects.
	b, err := json.Marshal(api.ReportBatch{BatchID: "x", Aggregates: aggs})
	if err != nil {
		t.Fatal(err)
	}
	var back api.ReportBatch
	if err := api.Decode(b, &back); err != nil {
		t.Fatalf("the batch does not decode strictly: %v", err)
	}
}

func TestSampleTruncatesLongText(t *testing.T) {
	long := strings.Repeat("é", 2000) // two bytes a rune
	o := &cutover.Observation{Key: long, Outcome: cutover.OutcomeMismatch,
		Diffs: []diff.Difference{{Path: ".A", Old: long, New: "x"}}, New: cutover.Side{Err: errors.New(long)}}
	s := sampleOf(o, 5)
	for name, v := range map[string]string{"key": s.Key, "old": s.Diffs[0].Old, "error": s.NewError} {
		if len(v) > maxSampleText+len("…") || !strings.HasSuffix(v, "…") || !utf8.ValidString(v) {
			t.Errorf("%s: %d bytes, valid %v", name, len(v), utf8.ValidString(v))
		}
	}
	if s.Diffs[0].New != "x" || s.Diffs[0].Path != ".A" {
		t.Errorf("short strings changed: %+v", s.Diffs[0])
	}
}

func TestAPIErrorIs(t *testing.T) {
	e := &APIError{StatusCode: 409, Code: api.CodeGateRefused}
	if !errors.Is(e, ErrGateRefused) || errors.Is(e, ErrConflict) {
		t.Error("gate refusal")
	}
	e = &APIError{StatusCode: 409, Code: api.CodeConflict, CurrentVersion: 3}
	if !errors.Is(e, ErrConflict) || errors.Is(e, ErrGateRefused) {
		t.Error("conflict")
	}
	if !errors.Is(&APIError{StatusCode: 401}, ErrUnauthorized) {
		t.Error("401 without code")
	}
	if !errors.Is(&transportError{url: "u", err: io.EOF}, ErrUnreachable) {
		t.Error("transport")
	}
}

func TestNewValidatesURL(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://x", "http://"} {
		if _, err := New(u, "", Options{}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	if _, err := New("http://127.0.0.1:8080/", "t", Options{}); err != nil {
		t.Error(err)
	}
}
