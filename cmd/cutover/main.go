// Command cutover is the command-line face of the cutover toolkit: the
// control plane server, the shadow proxy, the demo, data verification, and
// the operator commands that talk to a server.
//
// Each subcommand lives in its own file and registers itself in init; main
// only dispatches. Run `cutover help` for the list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Exit codes that scripts can rely on.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and the answer is "no" (a difference, a refusal)
	exitError   = 2 // the command could not run: bad usage, unreachable server, I/O
)

// command is one subcommand.
type command struct {
	name    string
	summary string // one line, for `cutover help`
	usage   string // the arguments after the name, for its own help
	// run executes the command. args are what follows the name. An error
	// returned is printed; its exit code is exitError unless it is an
	// exitCodeError.
	run func(ctx context.Context, env *env, args []string) error
}

// env is what a command may touch, so tests can run commands in-process.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// exitCodeError carries a specific exit code with its message.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string { return e.err.Error() }
func (e *exitCodeError) Unwrap() error { return e.err }

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("cutover: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(runMain(ctx, &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:]))
}

// runMain dispatches args to a command and turns its error into an exit code.
func runMain(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				// The command's own -h prints its usage and every flag.
				c.run(ctx, &env{stdout: e.stdout, stderr: e.stdout, getenv: e.getenv}, []string{"-h"})
				return exitOK
			}
		}
		printHelp(e.stdout)
		if len(args) == 0 {
			return exitError
		}
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "cutover: unknown command %q\n\n", args[0])
		printHelp(e.stderr)
		return exitError
	}
	err := c.run(ctx, e, args[1:])
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var ce *exitCodeError
	if errors.As(err, &ce) {
		if ce.err != nil && ce.err.Error() != "" {
			fmt.Fprintf(e.stderr, "cutover %s: %v\n", c.name, ce.err)
		}
		return ce.code
	}
	fmt.Fprintf(e.stderr, "cutover %s: %v\n", c.name, err)
	return exitError
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "cutover: zero-downtime, phased migrations (old → shadow → reverse-shadow → new)")
	fmt.Fprintln(w, "\nusage: cutover COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun `cutover help COMMAND` or `cutover COMMAND -h` for a command's flags.")
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints its usage to the command's stderr.
func newFlagSet(e *env, c *command) *flag.FlagSet {
	fs := flag.NewFlagSet("cutover "+c.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: cutover %s %s\n\n%s\n\nflags:\n", c.name, c.usage, c.summary)
		fs.PrintDefaults()
	}
	return fs
}

// usageError is an exitError for wrong arguments; the message says what to do.
func usageError(format string, args ...any) error {
	return &exitCodeError{code: exitError, err: fmt.Errorf(format, args...)}
}

// envOr returns the first non-empty of the flag value and the environment
// variable.
func envOr(e *env, flagValue, name string) string {
	if strings.TrimSpace(flagValue) != "" {
		return flagValue
	}
	return e.getenv(name)
}
