package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/cutover/cutover/client"
)

// defaultServer is the server the operator commands talk to when neither
// --server nor CUTOVER_SERVER says otherwise: `cutover serve`'s default.
const defaultServer = "http://127.0.0.1:8080"

// remoteFlags are the flags common to the commands that talk to a server.
type remoteFlags struct {
	server string
	token  string
	json   bool
}

func (r *remoteFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.server, "server", "", "the server's URL (env CUTOVER_SERVER; default "+defaultServer+")")
	fs.StringVar(&r.token, "token", "", "the bearer token (env CUTOVER_TOKEN)")
	fs.BoolVar(&r.json, "json", false, "print JSON instead of tables, for scripts")
}

// client returns a client of the server the flags and environment name.
func (r *remoteFlags) client(e *env) (*client.Client, error) {
	server := envOr(e, r.server, "CUTOVER_SERVER")
	if strings.TrimSpace(server) == "" {
		server = defaultServer
	}
	token := envOr(e, r.token, "CUTOVER_TOKEN")
	c, err := client.New(server, strings.TrimSpace(token), client.Options{UserAgent: "cutover-cli"})
	if err != nil {
		return nil, usageError("%v (set --server or CUTOVER_SERVER)", err)
	}
	return c, nil
}

// parseArgs parses flags that may come before, between or after the
// positional arguments ("set orders --mode shadow" as well as
// "set --mode shadow orders"), and returns the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError("%v (see `cutover help %s`)", err, strings.TrimPrefix(fs.Name(), "cutover "))
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// remoteError turns a client error into one that says what to do, with the
// exit code scripts rely on: a refusal by the server's rules (a gate, a
// stale version, a skipped mode) is exitFailure, anything that kept the
// command from running is exitError.
func remoteError(c *client.Client, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return &exitCodeError{code: exitError, err: errors.New("interrupted")}
	}
	var ae *client.APIError
	switch {
	case errors.Is(err, client.ErrUnreachable):
		var cause error = err
		if u := errors.Unwrap(err); u != nil {
			cause = u
		}
		return &exitCodeError{code: exitError, err: fmt.Errorf("cannot reach the server at %s: is `cutover serve` running? (set --server or CUTOVER_SERVER to another address) (%v)", c.URL(), cause)}
	case errors.Is(err, client.ErrUnauthorized):
		return &exitCodeError{code: exitError, err: errors.New("401: the token is missing or invalid: set --token or CUTOVER_TOKEN")}
	case errors.Is(err, client.ErrForbidden):
		msg := "the token's scope is too small for this command"
		if errors.As(err, &ae) && ae.Message != "" {
			msg = ae.Message
		}
		return &exitCodeError{code: exitError, err: fmt.Errorf("403: %s: use a token with a larger scope (`cutover token create --scope operator` or admin)", msg)}
	case errors.As(err, &ae) && ae.StatusCode == 409:
		return &exitCodeError{code: exitFailure, err: err}
	}
	return &exitCodeError{code: exitError, err: err}
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// newTable returns a tab writer for aligned columns; Flush it when done.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}
