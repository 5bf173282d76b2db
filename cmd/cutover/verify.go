package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/client"
	"github.com/cutover/cutover/verify"
)

func init() {
	register(&command{
		name:    "verify",
		summary: "prove that two data sources hold the same data (exit 0 identical, 1 different, 2 error)",
		usage: "--old-db URL --old-query SQL --new-db URL --new-query SQL [--float-precision N] [--time-precision 1ms] [--limit 20] [--json] [--where SQL] [--concurrency N] [--report --server URL --token T --migration NAME]\n\n" +
			"Database URLs are sqlite:///path/file.db or postgres://user@host/db (env CUTOVER_OLD_DB, CUTOVER_NEW_DB,\n" +
			"which keep passwords out of the process list). Each query's first column is the key; the other columns\n" +
			"are compared by position. Instead of a query: --old-table T --old-key K --old-columns a,b (same for new).",
		run: runVerify,
	})
}

// sourceFlags are one side's flags.
type sourceFlags struct {
	db, query, table, key, columns string
}

func (s *sourceFlags) register(fs *flag.FlagSet, side string) {
	fs.StringVar(&s.db, side+"-db", "", "the "+side+" database: sqlite:///path/file.db or postgres://… (env CUTOVER_"+strings.ToUpper(side)+"_DB)")
	fs.StringVar(&s.query, side+"-query", "", "the "+side+" rows: SQL whose first column is the key and whose others are compared by position")
	fs.StringVar(&s.table, side+"-table", "", "instead of --"+side+"-query: the table")
	fs.StringVar(&s.key, side+"-key", "", "with --"+side+"-table: the key column")
	fs.StringVar(&s.columns, side+"-columns", "", "with --"+side+"-table: the compared columns, comma-separated")
}

func (s *sourceFlags) source(e *env, side string) (verify.Source, error) {
	src := verify.Source{
		URL:   strings.TrimSpace(envOr(e, s.db, "CUTOVER_"+strings.ToUpper(side)+"_DB")),
		Query: s.query,
		Table: s.table,
		Key:   s.key,
	}
	if s.columns != "" {
		for _, c := range strings.Split(s.columns, ",") {
			if c = strings.TrimSpace(c); c != "" {
				src.Columns = append(src.Columns, c)
			}
		}
	}
	switch {
	case src.URL == "":
		return src, usageError("--%s-db is missing: give sqlite:///path/file.db or postgres://user@host/db (or set CUTOVER_%s_DB)", side, strings.ToUpper(side))
	case src.Query == "" && src.Table == "":
		return src, usageError("--%s-query is missing: give SQL whose first column is the key (or --%s-table with --%s-key)", side, side, side)
	case src.Query != "" && src.Table != "":
		return src, usageError("--%s-query and --%s-table are both given: use one", side, side)
	case src.Table != "" && src.Key == "":
		return src, usageError("--%s-table needs --%s-key, the key column", side, side)
	}
	return src, nil
}

func runVerify(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, commands["verify"])
	var old, new sourceFlags
	old.register(fs, "old")
	new.register(fs, "new")
	var rf remoteFlags
	rf.register(fs)
	var opts verify.Options
	fs.IntVar(&opts.FloatPrecision, "float-precision", verify.DefaultFloatPrecision, "decimal places to which decimals and floats are rounded before comparing")
	fs.DurationVar(&opts.TimePrecision, "time-precision", time.Microsecond, "timestamps are truncated to this (UTC) before comparing: 1µs, 1ms, 1s…")
	fs.IntVar(&opts.Limit, "limit", verify.DefaultLimit, "list at most this many differing keys (the counts are always complete)")
	fs.StringVar(&opts.Where, "where", "", "a SQL condition applied to both sides, to leave out rows still changing (on the query's output columns; with --*-table, on any column)")
	fs.IntVar(&opts.Concurrency, "concurrency", verify.DefaultConcurrency, "at most this many queries at once on each database")
	fs.IntVar(&opts.ChunkRows, "chunk-rows", verify.DefaultChunkRows, "rows per checksum range at the start (bounds each query's work)")
	fs.IntVar(&opts.Threshold, "threshold", verify.DefaultThreshold, "a differing range of at most this many rows is fetched and compared row by row")
	report := fs.Bool("report", false, "send the result to the control plane as promotion evidence (needs --migration)")
	migration := fs.String("migration", "", "with --report: the migration the result belongs to")
	noProgress := fs.Bool("no-progress", false, "no progress bar, even on a terminal")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("unexpected argument %q: verify takes only flags (quote SQL: --old-query 'SELECT id, total FROM orders')", pos[0])
	}
	oldSrc, err := old.source(e, "old")
	if err != nil {
		return err
	}
	newSrc, err := new.source(e, "new")
	if err != nil {
		return err
	}
	switch {
	case opts.FloatPrecision < 1:
		return usageError("--float-precision must be 1 or more decimal places (round in the query for whole numbers)")
	case opts.TimePrecision < time.Microsecond || opts.TimePrecision%time.Microsecond != 0:
		return usageError("--time-precision must be a whole number of microseconds, such as 1µs, 1ms or 1s")
	case opts.Concurrency < 1:
		return usageError("--concurrency must be 1 or more")
	case opts.ChunkRows < 1 || opts.Threshold < 1:
		return usageError("--chunk-rows and --threshold must be 1 or more")
	case opts.Limit < 0:
		return usageError("--limit must be 0 or more")
	case *report && strings.TrimSpace(*migration) == "":
		return usageError("--report needs --migration NAME: the migration the result is evidence for")
	case !*report && *migration != "":
		return usageError("--migration is only used with --report: add --report to send the result")
	}
	if opts.Limit == 0 {
		opts.Limit = -1 // the flag's 0 means "list none"
	}
	bar := newProgressBar(e.stderr)
	if bar != nil && !*noProgress {
		opts.Progress = bar.update
	}
	res, err := verify.Compare(ctx, oldSrc, newSrc, opts)
	if bar != nil {
		bar.clear()
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return &exitCodeError{code: exitError, err: errors.New("interrupted")}
		}
		return &exitCodeError{code: exitError, err: err}
	}
	var reportErr error
	reported := false
	if *report {
		reportErr = postVerifyReport(ctx, e, &rf, strings.TrimSpace(*migration), res.Report())
		reported = reportErr == nil
	}
	if rf.json {
		out := struct {
			*verify.Result
			Reported bool `json:"reported,omitempty"`
		}{res, reported}
		if err := printJSON(e.stdout, out); err != nil {
			return err
		}
	} else {
		if err := res.WriteText(e.stdout); err != nil {
			return err
		}
		if reported {
			fmt.Fprintf(e.stdout, "reported to the control plane for migration %s\n", *migration)
		}
	}
	if reportErr != nil {
		return &exitCodeError{code: exitError, err: reportErr}
	}
	if !res.Identical {
		return &exitCodeError{code: exitFailure, err: fmt.Errorf("old and new differ: %d missing in new, %d extra in new, %d differing", res.Missing, res.Extra, res.Differing)}
	}
	return nil
}

// postVerifyReport sends a verify report to the control plane
// (POST /api/v1/migrations/{name}/verifications, operator scope).
func postVerifyReport(ctx context.Context, e *env, rf *remoteFlags, migration string, rep api.VerifyReport) error {
	c, err := rf.client(e)
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	err = c.AddVerification(ctx, migration, rep)
	var ae *client.APIError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, client.ErrUnreachable):
		return fmt.Errorf("reporting: cannot reach the server at %s: is `cutover serve` running? (set --server or CUTOVER_SERVER) (%v)", c.URL(), err)
	case errors.Is(err, client.ErrUnauthorized):
		return errors.New("reporting: 401: the token is missing or invalid: set --token or CUTOVER_TOKEN")
	case errors.Is(err, client.ErrForbidden) && errors.As(err, &ae):
		return fmt.Errorf("reporting: 403: %s: use a token with operator scope or more (`cutover token create --scope operator`)", ae.Message)
	case errors.Is(err, client.ErrNotFound) && errors.As(err, &ae):
		return fmt.Errorf("reporting: 404: %s: is the migration named %q on %s? `cutover status` lists them", ae.Message, migration, c.URL())
	}
	return fmt.Errorf("reporting: %w", err)
}

// progressBar draws a one-line progress bar on a terminal.
type progressBar struct {
	w     io.Writer
	start time.Time

	mu   sync.Mutex // protects last and drawn
	last time.Time
	drew bool
}

// newProgressBar returns a bar for w, or nil when w is not a terminal.
func newProgressBar(w io.Writer) *progressBar {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return &progressBar{w: w, start: time.Now()}
}

func (b *progressBar) update(p verify.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if now.Sub(b.last) < 100*time.Millisecond && p.Fraction < 1 {
		return
	}
	b.last = now
	const width = 30
	filled := int(p.Fraction * width)
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	fmt.Fprintf(b.w, "\r[%s] %3.0f%%  %d rows  %d differences  %s\x1b[K",
		bar, 100*p.Fraction, max(p.OldRows, p.NewRows), p.Differences, now.Sub(b.start).Round(time.Second))
	b.drew = true
}

func (b *progressBar) clear() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drew {
		fmt.Fprint(b.w, "\r\x1b[K")
	}
}
