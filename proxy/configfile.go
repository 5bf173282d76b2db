package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cutover/cutover"
)

// FileConfig is the JSON configuration file of `cutover proxy`. Every field
// is optional in the file; flags given on the command line override it.
// Unknown fields are refused, so a misspelt option is not silently ignored.
//
//	{
//	  "migration": "orders",
//	  "listen": "127.0.0.1:8080",
//	  "old": "http://127.0.0.1:9001",
//	  "new": "http://127.0.0.1:9002",
//	  "old2": "http://127.0.0.1:9003",
//	  "key": "header:X-User-Id",
//	  "rollout": {"mode": "shadow", "treatment": "reverse-shadow", "percent": 10},
//	  "limits": {"max_request_body": 1048576, "shadow_timeout": "1s", "max_in_flight": 256},
//	  "ignore_headers": ["X-Build"],
//	  "ignore_paths": [".meta.generatedAt"],
//	  "routes": [
//	    {"name": "getOrder", "pattern": "GET /orders/{id}", "ignore_paths": [".etag"]},
//	    {"name": "createOrder", "pattern": "POST /orders", "shadow_writes": true}
//	  ]
//	}
type FileConfig struct {
	Migration       string       `json:"migration"`
	Listen          string       `json:"listen"`
	Old             string       `json:"old"`
	New             string       `json:"new"`
	Old2            string       `json:"old2"`
	Key             string       `json:"key"`
	DefaultKey      string       `json:"default_key"`
	Rollout         *FileRollout `json:"rollout"`
	Limits          FileLimits   `json:"limits"`
	DisableFallback bool         `json:"disable_fallback"`
	IgnoreHeaders   []string     `json:"ignore_headers"`
	IgnorePaths     []string     `json:"ignore_paths"`
	Routes          []Route      `json:"routes"`

	name string // file name, for errors
	data []byte // the file's text, to find a field's line
}

// FileRollout is a rollout as written in a file: modes by name.
type FileRollout struct {
	Mode      string            `json:"mode"`
	Treatment string            `json:"treatment"`
	Percent   float64           `json:"percent"`
	Overrides map[string]string `json:"overrides"`
}

// FileLimits are the limits of a FileConfig; durations are strings such as
// "1s" or "250ms". Zero fields take the defaults of [Config].
type FileLimits struct {
	MaxRequestBody  int64   `json:"max_request_body"`
	MaxResponseBody int64   `json:"max_response_body"`
	MaxInFlight     int     `json:"max_in_flight"`
	SampleRate      float64 `json:"sample_rate"`
	SinkQueueSize   int     `json:"sink_queue_size"`
	ShadowTimeout   string  `json:"shadow_timeout"`
	NewTimeout      string  `json:"new_timeout"`
}

// LoadConfigFile reads and checks a configuration file. Its errors name the
// file, the line and the field that is wrong: "proxy.json:12: routes[1].pattern: …".
func LoadConfigFile(path string) (*FileConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the proxy configuration: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig parses and checks a configuration; name appears in errors.
func ParseConfig(name string, data []byte) (*FileConfig, error) {
	f := &FileConfig{name: name, data: data}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(f); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return nil, fmt.Errorf("%s:%d: invalid JSON: %v", name, lineAt(data, syn.Offset), syn)
		case errors.As(err, &typ):
			return nil, fmt.Errorf("%s:%d: %s: %s is not a valid %s", name, lineAt(data, typ.Offset), typ.Field, typ.Value, typ.Type)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.TrimPrefix(err.Error(), "json: unknown field ")
			key, _ := strconv.Unquote(field)
			return nil, fmt.Errorf("%s:%d: unknown field %s; see docs/proxy.md for the fields", name, lineOfKey(data, key), field)
		case errors.Is(err, errEOF()):
			return nil, fmt.Errorf("%s: empty configuration; write a JSON object such as {\"old\": \"http://…\"}", name)
		}
		return nil, fmt.Errorf("%s:%d: %v", name, lineAt(data, dec.InputOffset()), err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s:%d: text after the configuration object; the file holds one JSON object", name, lineAt(data, dec.InputOffset()))
	}
	if _, err := f.Config(); err != nil {
		return nil, err
	}
	return f, nil
}

func errEOF() error { _, err := json.NewDecoder(strings.NewReader("")).Token(); return err }

// fieldError names a field of the file, and its line when it is there.
func (f *FileConfig) fieldError(field, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if line := lineOf(f.data, field); line > 0 {
		return fmt.Errorf("%s:%d: %s: %s", f.name, line, field, msg)
	}
	return fmt.Errorf("%s: %s: %s", f.name, field, msg)
}

// Config converts the file to a proxy Config (without sinks, source or
// transport, which the caller adds), checking every field.
func (f *FileConfig) Config() (Config, error) {
	var errs []error
	cfg := Config{
		Migration: f.Migration, DefaultKey: f.DefaultKey, DisableFallback: f.DisableFallback,
		IgnoreHeaders: f.IgnoreHeaders, IgnorePaths: f.IgnorePaths, Routes: f.Routes,
		MaxRequestBody: f.Limits.MaxRequestBody, MaxResponseBody: f.Limits.MaxResponseBody,
		MaxInFlight: f.Limits.MaxInFlight, SinkQueueSize: f.Limits.SinkQueueSize, SampleRate: f.Limits.SampleRate,
	}
	for _, u := range []struct {
		field, value string
		dst          **url.URL
	}{{"old", f.Old, &cfg.Old}, {"new", f.New, &cfg.New}, {"old2", f.Old2, &cfg.Old2}} {
		if u.value == "" {
			continue
		}
		parsed, err := ParseUpstream(u.value)
		if err != nil {
			errs = append(errs, f.fieldError(u.field, "%v", err))
			continue
		}
		*u.dst = parsed
	}
	if k, err := ParseKeyFrom(f.Key); err != nil {
		errs = append(errs, f.fieldError("key", "%v", err))
	} else {
		cfg.Key = k
	}
	for _, d := range []struct {
		field, value string
		dst          *time.Duration
	}{{"limits.shadow_timeout", f.Limits.ShadowTimeout, &cfg.ShadowTimeout}, {"limits.new_timeout", f.Limits.NewTimeout, &cfg.NewTimeout}} {
		if d.value == "" {
			continue
		}
		v, err := time.ParseDuration(d.value)
		if err != nil || v < 0 {
			errs = append(errs, f.fieldError(d.field, "%q is not a duration; write it as \"1s\" or \"250ms\"", d.value))
			continue
		}
		*d.dst = v
	}
	for _, n := range []struct {
		field string
		v     int64
	}{{"limits.max_request_body", f.Limits.MaxRequestBody}, {"limits.max_response_body", f.Limits.MaxResponseBody},
		{"limits.max_in_flight", int64(f.Limits.MaxInFlight)}, {"limits.sink_queue_size", int64(f.Limits.SinkQueueSize)}} {
		if n.v < 0 {
			errs = append(errs, f.fieldError(n.field, "%d is negative; use 0 for the default", n.v))
		}
	}
	if sr := f.Limits.SampleRate; sr < 0 || sr > 1 {
		errs = append(errs, f.fieldError("limits.sample_rate", "%v is outside (0, 1]; 0 means 1, every request", sr))
	}
	if f.Rollout != nil {
		r, err := f.Rollout.rollout()
		if err != nil {
			var fe *rolloutFieldError
			if errors.As(err, &fe) {
				errs = append(errs, f.fieldError("rollout."+fe.field, "%v", fe.err))
			} else {
				errs = append(errs, f.fieldError("rollout", "%v", err))
			}
		}
		cfg.Rollout = r
	}
	for i, r := range f.Routes {
		if _, err := compileRoute(r); err != nil {
			errs = append(errs, f.fieldError(fmt.Sprintf("routes[%d].pattern", i), "%v", err))
		}
	}
	if len(errs) == 0 && (cfg.Old != nil || cfg.New != nil) {
		// The remaining checks (names, ignore paths) are the proxy's own.
		probe := cfg
		if probe.Old == nil {
			probe.Old = cfg.New
		}
		if probe.New == nil {
			probe.New = cfg.Old
		}
		if _, err := probe.compile(); err != nil {
			// Its messages start with the field ("routes[1]: …"): add the line.
			for _, msg := range strings.Split(err.Error(), "\n") {
				field, rest, _ := strings.Cut(msg, ": ")
				if line := lineOf(f.data, field); line > 0 {
					errs = append(errs, fmt.Errorf("%s:%d: %s: %s", f.name, line, field, rest))
				} else {
					errs = append(errs, fmt.Errorf("%s: %s", f.name, msg))
				}
			}
		}
	}
	return cfg, errors.Join(errs...)
}

type rolloutFieldError struct {
	field string
	err   error
}

func (e *rolloutFieldError) Error() string { return e.field + ": " + e.err.Error() }

func (fr *FileRollout) rollout() (cutover.Rollout, error) {
	var r cutover.Rollout
	var err error
	if fr.Mode != "" {
		if r.Mode, err = cutover.ParseMode(fr.Mode); err != nil {
			return r, &rolloutFieldError{"mode", err}
		}
	}
	if fr.Treatment != "" {
		if r.Treatment, err = cutover.ParseMode(fr.Treatment); err != nil {
			return r, &rolloutFieldError{"treatment", err}
		}
	}
	r.Percent = fr.Percent
	for k, v := range fr.Overrides {
		m, err := cutover.ParseMode(v)
		if err != nil {
			return r, &rolloutFieldError{"overrides." + k, err}
		}
		if r.Overrides == nil {
			r.Overrides = make(map[string]cutover.Mode)
		}
		r.Overrides[k] = m
	}
	if err := r.Validate(); err != nil {
		field := "percent"
		if strings.Contains(err.Error(), "overrides") {
			field = "overrides"
		}
		return r, &rolloutFieldError{field, errors.New(strings.TrimPrefix(strings.TrimPrefix(err.Error(), "rollout: "), field+": "))}
	}
	return r, nil
}

// ParseUpstream parses an upstream base URL: http or https, with a host.
func ParseUpstream(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an upstream URL; write it as http://host:port", s)
	}
	return u, nil
}

// lineAt returns the 1-based line of a byte offset.
func lineAt(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	return 1 + bytes.Count(data[:off], []byte("\n"))
}

// lineOf returns the line where the field at path ("routes[2].pattern",
// "limits.shadow_timeout") is written in data, or 0 if it is not there.
func lineOf(data []byte, path string) int {
	return findLine(data, func(p, _ string) bool { return p == path })
}

// lineOfKey returns the line of the first object member named key, at any
// depth, or 0.
func lineOfKey(data []byte, key string) int {
	return findLine(data, func(_, k string) bool { return k == key })
}

// findLine walks data's JSON and returns the line of the first member or
// element whose path (and key, for members) match.
func findLine(data []byte, match func(path, key string) bool) int {
	type frame struct {
		array     bool
		index     int
		key       string
		expectKey bool
	}
	var stack []frame
	cur := func() string {
		var b strings.Builder
		for _, f := range stack {
			if f.array {
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		}
		return b.String()
	}
	afterValue := func() {
		if n := len(stack); n > 0 && !stack[n-1].array {
			stack[n-1].expectKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return 0
		}
		d, isDelim := tok.(json.Delim)
		if n := len(stack); n > 0 && !stack[n-1].array && stack[n-1].expectKey {
			if isDelim && d == '}' {
				stack = stack[:n-1]
				afterValue()
				continue
			}
			stack[n-1].key, stack[n-1].expectKey = tok.(string), false
			if match(cur(), stack[n-1].key) {
				return lineAt(data, dec.InputOffset())
			}
			continue
		}
		if isDelim && d == ']' {
			stack = stack[:len(stack)-1]
			afterValue()
			continue
		}
		if n := len(stack); n > 0 && stack[n-1].array {
			stack[n-1].index++
			if match(cur(), "") {
				for off < int64(len(data)) && strings.IndexByte(" \t\r\n,", data[off]) >= 0 {
					off++
				}
				return lineAt(data, off+1)
			}
		}
		switch {
		case isDelim && d == '{':
			stack = append(stack, frame{expectKey: true})
		case isDelim && d == '[':
			stack = append(stack, frame{array: true, index: -1})
		default:
			afterValue()
		}
	}
}
