package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/client"
	"github.com/cutover/cutover/proxy"
	"github.com/cutover/cutover/rolloutfile"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func init() {
	register(&command{
		name:    "proxy",
		summary: "run the shadow proxy: the four modes, comparison and observations for any HTTP service",
		usage: "--listen ADDR --old URL --new URL --migration NAME [--mode MODE [--treatment MODE --percent N] | " +
			"--rollout-file FILE | --server URL --token T] [--config FILE] [--key header:X-User-Id] [flags]",
		run: runProxy,
	})
}

// proxyFlags are the command line of `cutover proxy`; those given override
// the configuration file.
type proxyFlags struct {
	fs                                         *flag.FlagSet
	listen, metricsListen                      string
	old, new, old2, migration                  string
	mode, treatment                            string
	percent                                    float64
	rolloutFile, configFile                    string
	key, defaultKey                            string
	server, token, cacheFile                   string
	maxRequestBody, maxResponseBody            int64
	maxInFlight, gcPercent                     int
	sampleRate                                 float64
	shadowTimeout, newTimeout, shutdownTimeout time.Duration
	logLevel                                   string
	ignoreHeaders, ignorePaths                 stringList
}

type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func (f *proxyFlags) set(name string) bool {
	found := false
	f.fs.Visit(func(fl *flag.Flag) { found = found || fl.Name == name })
	return found
}

// runProxy serves the shadow proxy until ctx ends, then shuts down
// gracefully: in-flight client requests finish, then secondary requests
// and queued observations.
func runProxy(ctx context.Context, e *env, args []string) error {
	c := commands["proxy"]
	f := &proxyFlags{fs: newFlagSet(e, c)}
	fs := f.fs
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8080", "TCP address to serve on (port 0 picks a free one)")
	fs.StringVar(&f.metricsListen, "metrics-listen", "", "TCP address serving /metrics (Prometheus) and /healthz; empty: none")
	fs.StringVar(&f.old, "old", "", "base URL of the old upstream (http://host:port)")
	fs.StringVar(&f.new, "new", "", "base URL of the new upstream")
	fs.StringVar(&f.old2, "old2", "", "base URL of a second old instance, for noise cancellation (optional)")
	fs.StringVar(&f.migration, "migration", "", "the migration's name: in rollouts, buckets, observations and metrics")
	fs.StringVar(&f.mode, "mode", "", "static rollout: the control mode (old, shadow, reverse-shadow, new)")
	fs.StringVar(&f.treatment, "treatment", "", "static rollout: the treatment mode of --percent of the keys")
	fs.Float64Var(&f.percent, "percent", 0, "static rollout: share of keys in --treatment, 0 to 100")
	fs.StringVar(&f.rolloutFile, "rollout-file", "", `rollout file ({"migrations": {NAME: {"mode": …}}}), watched and reloaded; a bad file keeps the last good rollout`)
	fs.StringVar(&f.configFile, "config", "", "JSON configuration file (routes, ignores, limits, upstreams); reloaded on SIGHUP and on change")
	fs.StringVar(&f.key, "key", "", "sticky key attribute: header:NAME, cookie:NAME, query:NAME or path:N")
	fs.StringVar(&f.defaultKey, "default-key", "", "key of requests without one (default: a random bucket per request)")
	fs.StringVar(&f.server, "server", "", "control plane URL to follow the rollout from and report to (env CUTOVER_SERVER)")
	fs.StringVar(&f.token, "token", "", "the control plane's sdk token (env CUTOVER_TOKEN)")
	fs.StringVar(&f.cacheFile, "cache-file", "", "with --server: file keeping the last known rollout while the server is away")
	fs.Int64Var(&f.maxRequestBody, "max-request-body", 0, "largest request body buffered to be shadowed, in bytes (default 1 MiB)")
	fs.Int64Var(&f.maxResponseBody, "max-response-body", 0, "largest response body kept to compare, in bytes (default 1 MiB)")
	fs.IntVar(&f.maxInFlight, "max-in-flight", 0, "bound on secondary requests at once; beyond it they are shed (default 256)")
	fs.Float64Var(&f.sampleRate, "sample-rate", 0, "fraction of safe requests compared, in (0, 1] (default 1: all)")
	fs.DurationVar(&f.shadowTimeout, "shadow-timeout", 0, "timeout of each secondary request (default 1s)")
	fs.DurationVar(&f.newTimeout, "new-timeout", 0, "reverse-shadow: time new has to send headers before old's response is used (default: --shadow-timeout)")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 15*time.Second, "how long shutdown waits for requests in flight")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug (logs matches too), info, warn or error")
	fs.IntVar(&f.gcPercent, "gc-percent", 0, "garbage collector target, as GOGC; -1 turns it off (default 400, or GOGC's value when set)")
	fs.Var(&f.ignoreHeaders, "ignore-header", "response header not compared (repeatable), besides the defaults")
	fs.Var(&f.ignorePaths, "ignore-path", "JSON body path not compared, as .items[*].etag (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments %q: proxy takes flags only", fs.Args())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return usageError("--log-level %q: use debug, info, warn or error", f.logLevel)
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	switch gc := f.gcPercent; {
	case f.set("gc-percent") && (gc == 0 || gc < -1):
		return usageError("--gc-percent %d: give a positive percentage such as 400, or -1 to turn the collector off", gc)
	case f.set("gc-percent"):
		defer debug.SetGCPercent(debug.SetGCPercent(gc))
	case e.getenv("GOGC") == "":
		defer debug.SetGCPercent(debug.SetGCPercent(proxy.GCPercent))
	}
	f.server = envOr(e, f.server, "CUTOVER_SERVER")
	f.token = envOr(e, f.token, "CUTOVER_TOKEN")

	cfg, listen, err := f.config()
	if err != nil {
		return err
	}
	cfg.Logger = log
	cfg.Sinks = []cutover.Sink{cutover.NewLogSink(log)}

	reg := prometheus.NewRegistry() // served at /metrics
	var closers []func(context.Context)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
		defer cancel()
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i](sctx)
		}
	}()
	reloadRollouts := func() error { return nil } // on SIGHUP, with the configuration
	switch {
	case f.server != "" && f.rolloutFile != "":
		return usageError("--server and --rollout-file both give the rollout: choose one")
	case f.server != "":
		cl, err := client.New(f.server, f.token, client.Options{Logger: log})
		if err != nil {
			return usageError("--server: %v", err)
		}
		src := cl.Source(client.SourceOptions{CacheFile: f.cacheFile})
		rep := cl.Reporter(client.ReporterOptions{})
		cfg.Source = src
		cfg.Sinks = append(cfg.Sinks, rep)
		closers = append(closers, func(context.Context) { _ = src.Close() })
		closers = append(closers, func(ctx context.Context) {
			if err := rep.Close(ctx); err != nil {
				log.Warn("cutover proxy: reports left unsent at shutdown", "err", err)
			}
		})
	case f.rolloutFile != "":
		src, err := rolloutfile.Open(f.rolloutFile, rolloutfile.Options{Logger: log, Registerer: reg})
		if err != nil {
			return err
		}
		closers = append(closers, func(context.Context) { _ = src.Close() })
		if _, ok := src.Rollout(cfg.Migration); !ok {
			log.Warn("cutover proxy: the rollout file does not name the migration; its rollout is the configuration's until it does",
				"file", f.rolloutFile, "migration", cfg.Migration, "names", src.Status().Migrations)
		}
		cfg.Source = src
		reloadRollouts = src.Reload
	}
	if cfg.Source != nil {
		cfg.Source = loggedSource{cfg.Source, log}
	}
	cfg.Registerer = reg
	p, err := proxy.New(cfg)
	if err != nil {
		return err
	}
	// Closed after the HTTP server (closers run in reverse).
	closers = append(closers, func(ctx context.Context) {
		if err := p.Close(ctx); err != nil {
			log.Warn("cutover proxy: shutdown", "err", err)
		}
	})

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", listen, err)
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan error, 2)
	go func() { served <- srv.Serve(ln) }()
	closers = append(closers, func(ctx context.Context) {
		if err := srv.Shutdown(ctx); err != nil {
			log.Warn("cutover proxy: requests still in flight at shutdown", "err", err)
		}
	})
	if f.metricsListen != "" {
		mln, err := net.Listen("tcp", f.metricsListen)
		if err != nil {
			return fmt.Errorf("listening on %s for metrics: %w", f.metricsListen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { served <- msrv.Serve(mln) }()
		closers = append(closers, func(ctx context.Context) { _ = msrv.Shutdown(ctx) })
		fmt.Fprintf(e.stdout, "metrics on http://%s/metrics\n", mln.Addr())
	}

	// Reload the configuration file on SIGHUP and when it changes; a bad
	// file is reported and the running configuration kept.
	reload := func(why string) {
		next, _, err := f.config()
		if err == nil {
			err = p.Reload(next)
		}
		if err != nil {
			log.Error("cutover proxy: reload refused; the running configuration is kept", "trigger", why, "err", err)
			return
		}
		if cfg.Source == nil && f.configFile != "" && !f.set("mode") {
			if err := p.SetRollout(next.Rollout); err != nil {
				log.Error("cutover proxy: reloaded rollout refused", "err", err)
			}
		}
		log.Info("cutover proxy: configuration reloaded", "trigger", why)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if f.configFile != "" {
		stop, err := proxy.WatchFile(f.configFile, func() { reload("file changed") })
		if err != nil {
			log.Warn("cutover proxy: not watching the configuration file; SIGHUP still reloads it", "err", err)
		} else {
			closers = append(closers, func(context.Context) { stop() })
		}
	}

	fmt.Fprintf(e.stdout, "proxy listening on http://%s\n", ln.Addr())
	log.Info("cutover proxy: started", "migration", cfg.Migration, "old", cfg.Old.String(), "new", cfg.New.String(),
		"rollout", p.Rollout().String())
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(e.stdout, "shutting down")
			return nil
		case <-hup:
			reload("SIGHUP")
			_ = reloadRollouts() // a bad file is logged and counted by rolloutfile; the last good rollout stays
		case err := <-served:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return err
		}
	}
}

// loggedSource logs each rollout its source delivers: the operator sees
// when, and to what, the proxy's traffic moved.
type loggedSource struct {
	cutover.Source
	log *slog.Logger
}

func (s loggedSource) Subscribe(migration string, update func(cutover.Rollout)) (func(), error) {
	return s.Source.Subscribe(migration, func(r cutover.Rollout) {
		s.log.Info("cutover proxy: rollout received", "migration", migration, "rollout", r.String())
		update(r)
	})
}

// config builds the proxy's configuration: the file's, if any, then the
// flags given. It returns the address to listen on.
func (f *proxyFlags) config() (proxy.Config, string, error) {
	var cfg proxy.Config
	listen := f.listen
	if f.configFile != "" {
		fc, err := proxy.LoadConfigFile(f.configFile)
		if err != nil {
			return cfg, "", err
		}
		if cfg, err = fc.Config(); err != nil {
			return cfg, "", err
		}
		if fc.Listen != "" && !f.set("listen") {
			listen = fc.Listen
		}
	}
	upstream := func(name, value string, dst **url.URL) error {
		if !f.set(name) {
			return nil
		}
		u, err := proxy.ParseUpstream(value)
		if err != nil {
			return usageError("--%s: %v", name, err)
		}
		*dst = u
		return nil
	}
	if err := errors.Join(upstream("old", f.old, &cfg.Old), upstream("new", f.new, &cfg.New), upstream("old2", f.old2, &cfg.Old2)); err != nil {
		return cfg, "", err
	}
	if f.set("migration") {
		cfg.Migration = f.migration
	}
	if cfg.Migration == "" || cfg.Old == nil || cfg.New == nil {
		return cfg, "", usageError("--migration, --old and --new are required (or set migration, old and new in --config)")
	}
	if f.set("mode") || f.set("treatment") || f.set("percent") {
		var r cutover.Rollout
		var err error
		if r.Mode, err = cutover.ParseMode(f.mode); f.mode != "" && err != nil {
			return cfg, "", usageError("--mode: %v", err)
		}
		if f.treatment != "" {
			if r.Treatment, err = cutover.ParseMode(f.treatment); err != nil {
				return cfg, "", usageError("--treatment: %v", err)
			}
		}
		r.Percent = f.percent
		if err := r.Validate(); err != nil {
			return cfg, "", usageError("--mode/--treatment/--percent: %v", err)
		}
		cfg.Rollout = r
	}
	if f.set("key") {
		k, err := proxy.ParseKeyFrom(f.key)
		if err != nil {
			return cfg, "", usageError("--key: %v", err)
		}
		cfg.Key = k
	}
	if f.set("default-key") {
		cfg.DefaultKey = f.defaultKey
	}
	if f.set("max-request-body") {
		cfg.MaxRequestBody = f.maxRequestBody
	}
	if f.set("max-response-body") {
		cfg.MaxResponseBody = f.maxResponseBody
	}
	if f.set("max-in-flight") {
		cfg.MaxInFlight = f.maxInFlight
	}
	if f.set("sample-rate") {
		cfg.SampleRate = f.sampleRate
	}
	if f.set("shadow-timeout") {
		cfg.ShadowTimeout = f.shadowTimeout
	}
	if f.set("new-timeout") {
		cfg.NewTimeout = f.newTimeout
	}
	cfg.IgnoreHeaders = append(cfg.IgnoreHeaders, f.ignoreHeaders...)
	cfg.IgnorePaths = append(cfg.IgnorePaths, f.ignorePaths...)
	return cfg, listen, nil
}
