package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cutover/cutover/api"
)

// DefaultTimeout bounds each ordinary request (not the watch stream) when
// [Options].Timeout is zero.
const DefaultTimeout = 10 * time.Second

// maxResponse bounds the answer bodies the client reads, so a confused
// server cannot make it allocate without limit.
const maxResponse = 32 << 20

// Options configures a [Client]. Every zero field has the default its
// comment states.
type Options struct {
	// HTTPClient sends the requests. Its Timeout, if any, also bounds the
	// watch stream, so leave it zero and use Timeout instead.
	// Zero: a client of its own on a clone of http.DefaultTransport.
	HTTPClient *http.Client

	// Timeout bounds each ordinary request (not the watch stream).
	// Zero: DefaultTimeout.
	Timeout time.Duration

	// UserAgent is sent with every request. Zero: "cutover-client".
	UserAgent string

	// Logger receives the source's and reporter's trouble: lost
	// connections, failed flushes, dropped batches. Zero: slog.Default().
	Logger *slog.Logger
}

// Client talks to a cutover control plane (`cutover serve`) over its HTTP
// API, version 1. It is safe for concurrent use.
//
// Besides typed calls for each endpoint, it makes the library's two
// connections to the control plane: a rollout [Source] and a reporting
// [Reporter] sink.
type Client struct {
	base      *url.URL
	token     string
	http      *http.Client
	timeout   time.Duration
	userAgent string
	logger    *slog.Logger
}

// New returns a client of the server at baseURL ("http://127.0.0.1:8080")
// that authenticates with the bearer token (which may be empty for
// /healthz and the like).
func New(baseURL, token string, opts Options) (*Client, error) {
	if strings.TrimSpace(baseURL) == "" {
		return nil, errors.New("cutover client: the server URL is empty: give one such as http://127.0.0.1:8080")
	}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("cutover client: invalid server URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("cutover client: invalid server URL %q: want http://HOST:PORT or https://HOST", baseURL)
	}
	c := &Client{
		base:      u,
		token:     token,
		http:      opts.HTTPClient,
		timeout:   opts.Timeout,
		userAgent: opts.UserAgent,
		logger:    opts.Logger,
	}
	if c.http == nil {
		c.http = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.userAgent == "" {
		c.userAgent = "cutover-client"
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c, nil
}

// URL returns the server's base URL.
func (c *Client) URL() string { return c.base.String() }

// CloseIdleConnections closes the connections the client keeps open for
// reuse. Call it when done with a client whose HTTP client is its own.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// Sentinel errors, matched with errors.Is against the errors of the
// client's calls. An [*APIError] matches the sentinel of its code.
var (
	// ErrUnreachable: no answer from the server (refused, timed out, DNS).
	ErrUnreachable = errors.New("server unreachable")
	// ErrUnauthorized: 401, the token is missing or unknown.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: 403, the token's scope is too small.
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound: 404, no such migration.
	ErrNotFound = errors.New("not found")
	// ErrConflict: 409, the change was based on a stale version (or a name
	// is taken); [APIError].CurrentVersion holds the version to retry on.
	ErrConflict = errors.New("conflict")
	// ErrGateRefused: 409, a promotion gate refused the change;
	// [APIError].Gate says which criterion failed and by how much.
	ErrGateRefused = errors.New("refused by a promotion gate")
	// ErrTransition: 409, the change skips a mode and was not forced.
	ErrTransition = errors.New("transition skips a mode")
	// ErrInvalid: 400, a field is wrong; [APIError].Field names it.
	ErrInvalid = errors.New("invalid request")
)

// APIError is an error answer of the server: its HTTP status and the
// [api.ErrorBody] it carried. Tell a stale version from a gate refusal
// with errors.Is(err, ErrConflict) and errors.Is(err, ErrGateRefused), or
// by Code.
type APIError struct {
	// StatusCode is the HTTP status, such as 409.
	StatusCode int
	// Code is the stable error code, one of the api.Code… constants.
	Code    string
	Message string
	// Field names the wrong field of a 400.
	Field string
	// CurrentVersion is the migration's version with a conflict.
	CurrentVersion int64
	// Gate is the gates' verdict with a gate refusal.
	Gate *api.GateStatus
}

// Error returns "409 gate_refused: <message>".
func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	if e.Code == "" {
		return fmt.Sprintf("%d: %s", e.StatusCode, msg)
	}
	return fmt.Sprintf("%d %s: %s", e.StatusCode, e.Code, msg)
}

// Is matches the sentinel of the error's code (or status, when the server
// sent no code).
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Code == api.CodeUnauthorized || e.Code == "" && e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.Code == api.CodeForbidden || e.Code == "" && e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.Code == api.CodeNotFound || e.Code == "" && e.StatusCode == http.StatusNotFound
	case ErrConflict:
		return e.Code == api.CodeConflict
	case ErrGateRefused:
		return e.Code == api.CodeGateRefused
	case ErrTransition:
		return e.Code == api.CodeTransition
	case ErrInvalid:
		return e.Code == api.CodeInvalid || e.Code == "" && e.StatusCode == http.StatusBadRequest
	}
	return false
}

// transportError is a request that got no answer.
type transportError struct {
	url string
	err error
}

func (e *transportError) Error() string {
	return fmt.Sprintf("cannot reach the server at %s: %v", e.url, e.err)
}
func (e *transportError) Unwrap() error        { return e.err }
func (e *transportError) Is(target error) bool { return target == ErrUnreachable }

// newRequest builds a request to path (which starts with "/") with the
// client's headers; body, if not nil, is encoded as JSON.
func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values, body any) (*http.Request, error) {
	u := *c.base
	u.Path = strings.TrimRight(c.base.Path, "/") + path
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("cutover client: encoding the request: %w", err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), r)
	if err != nil {
		return nil, fmt.Errorf("cutover client: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// do sends one ordinary request and decodes a 2xx answer into out (if not
// nil), or returns the error answer as an *APIError.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := c.newRequest(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctxErr := context.Cause(ctx); ctxErr != nil && errors.Is(err, ctxErr) && !errors.Is(ctxErr, context.DeadlineExceeded) {
			return err // the caller gave up; the server is not to blame
		}
		return &transportError{url: c.base.String(), err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return readAPIError(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(out); err != nil {
		return fmt.Errorf("cutover client: decoding the answer of %s %s: %w", method, path, err)
	}
	return nil
}

// readAPIError turns an error answer into an *APIError, keeping what can be
// read of a body that is not an api.ErrorResponse.
func readAPIError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	e := &APIError{StatusCode: resp.StatusCode}
	var er api.ErrorResponse
	if json.Unmarshal(b, &er) == nil && er.Error.Code != "" {
		e.Code = er.Error.Code
		e.Message = er.Error.Message
		e.Field = er.Error.Field
		e.CurrentVersion = er.Error.CurrentVersion
		e.Gate = er.Error.Gate
		return e
	}
	e.Message = strings.TrimSpace(string(b))
	if len(e.Message) > 200 {
		e.Message = e.Message[:200] + "…"
	}
	return e
}

func migrationPath(name string, rest string) string {
	return "/api/v1/migrations/" + url.PathEscape(name) + rest
}

// Migrations lists every migration.
func (c *Client) Migrations(ctx context.Context) ([]api.Migration, error) {
	var ms []api.Migration
	if err := c.do(ctx, http.MethodGet, "/api/v1/migrations", nil, nil, &ms); err != nil {
		return nil, err
	}
	return ms, nil
}

// Migration returns one migration; an unknown name is an error matching
// [ErrNotFound].
func (c *Client) Migration(ctx context.Context, name string) (*api.Migration, error) {
	var m api.Migration
	if err := c.do(ctx, http.MethodGet, migrationPath(name, ""), nil, nil, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// CreateMigration creates a migration (admin scope). It starts at old.
func (c *Client) CreateMigration(ctx context.Context, m api.CreateMigration) (*api.Migration, error) {
	var out api.Migration
	if err := c.do(ctx, http.MethodPost, "/api/v1/migrations", nil, m, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetRollout replaces a migration's rollout (operator scope) and returns
// the migration as changed. A refusal is an [*APIError]: a stale
// change.Version matches [ErrConflict] (retry on CurrentVersion), a gate
// refusal [ErrGateRefused] (Gate holds the verdict), a skipped mode
// without Force [ErrTransition].
func (c *Client) SetRollout(ctx context.Context, name string, change api.RolloutChange) (*api.Migration, error) {
	var out api.Migration
	if err := c.do(ctx, http.MethodPut, migrationPath(name, "/rollout"), nil, change, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// StatsQuery selects the evidence of [Client.Stats] and
// [Client.Mismatches]. Zero fields are left to the server's defaults.
type StatsQuery struct {
	// Window is how far back to look ("the last hour").
	Window time.Duration
	// Step, if set, asks for a series with one point per step.
	Step time.Duration
}

func (q StatsQuery) values() url.Values {
	v := url.Values{}
	if q.Window > 0 {
		v.Set("window", q.Window.String())
	}
	if q.Step > 0 {
		v.Set("step", q.Step.String())
	}
	return v
}

// Stats returns a migration's evidence over a window: counts by outcome,
// rates with confidence bounds, latency percentiles, the gates' verdict.
func (c *Client) Stats(ctx context.Context, name string, q StatsQuery) (*api.Stats, error) {
	var s api.Stats
	if err := c.do(ctx, http.MethodGet, migrationPath(name, "/stats"), q.values(), nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Mismatches returns a migration's discrepancies grouped by signature,
// largest groups first.
func (c *Client) Mismatches(ctx context.Context, name string, q StatsQuery) ([]api.MismatchGroup, error) {
	var gs []api.MismatchGroup
	if err := c.do(ctx, http.MethodGet, migrationPath(name, "/mismatches"), q.values(), nil, &gs); err != nil {
		return nil, err
	}
	return gs, nil
}

// History returns a migration's audit trail as the server orders it.
func (c *Client) History(ctx context.Context, name string) ([]api.Change, error) {
	var cs []api.Change
	if err := c.do(ctx, http.MethodGet, migrationPath(name, "/history"), nil, nil, &cs); err != nil {
		return nil, err
	}
	return cs, nil
}

// CreateToken creates a token (admin scope). The answer's Secret is shown
// only this once.
func (c *Client) CreateToken(ctx context.Context, t api.CreateToken) (*api.Token, error) {
	var out api.Token
	if err := c.do(ctx, http.MethodPost, "/api/v1/tokens", nil, t, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Tokens lists the server's tokens (admin scope), never their secrets.
func (c *Client) Tokens(ctx context.Context) ([]api.Token, error) {
	var out []api.Token
	if err := c.do(ctx, http.MethodGet, "/api/v1/tokens", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// RevokeToken revokes the token with this ID (admin scope; at least 8 hex
// digits of the ID Tokens shows) and returns what it was.
func (c *Client) RevokeToken(ctx context.Context, id string) (*api.Token, error) {
	var out api.Token
	if err := c.do(ctx, http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AddVerification records a `cutover verify` result for a migration
// (operator scope): it appears in the history and feeds the verify_within
// gate.
func (c *Client) AddVerification(ctx context.Context, migration string, r api.VerifyReport) error {
	return c.do(ctx, http.MethodPost, "/api/v1/migrations/"+url.PathEscape(migration)+"/verifications", nil, r, nil)
}

// Report sends one batch of aggregates (sdk scope). Sending the same
// BatchID again is safe: the server counts it once and answers with
// Duplicate set. The [Reporter] does this for you.
func (c *Client) Report(ctx context.Context, b *api.ReportBatch) (*api.ReportAck, error) {
	var ack api.ReportAck
	if err := c.do(ctx, http.MethodPost, "/api/v1/reports", nil, b, &ack); err != nil {
		return nil, err
	}
	return &ack, nil
}
