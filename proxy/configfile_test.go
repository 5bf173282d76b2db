package proxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover"
)

const goodConfig = `{
  "migration": "orders",
  "listen": "127.0.0.1:0",
  "old": "http://127.0.0.1:9001",
  "new": "http://127.0.0.1:9002",
  "key": "cookie:uid",
  "rollout": {"mode": "shadow", "treatment": "reverse-shadow", "percent": 12.5},
  "limits": {"max_request_body": 2048, "shadow_timeout": "250ms"},
  "ignore_headers": ["X-Build"],
  "routes": [
    {"name": "getOrder", "pattern": "GET /orders/{id}", "ignore_paths": [".etag"]},
    {"name": "createOrder", "pattern": "POST /orders", "shadow_writes": true}
  ]
}`

func TestParseConfig(t *testing.T) {
	f, err := ParseConfig("proxy.json", []byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Migration != "orders" || cfg.Old.Host != "127.0.0.1:9001" || cfg.Key.String() != "cookie:uid" ||
		cfg.Rollout.Mode != cutover.ModeShadow || cfg.Rollout.Percent != 12.5 ||
		cfg.ShadowTimeout != 250*time.Millisecond || cfg.MaxRequestBody != 2048 ||
		len(cfg.Routes) != 2 || !cfg.Routes[1].ShadowWrites || f.Listen != "127.0.0.1:0" {
		t.Fatalf("config: %+v", cfg)
	}
}

func TestParseConfigErrorsNameLineAndField(t *testing.T) {
	for _, tc := range []struct {
		name, replace, with, want string
	}{
		{"syntax", `"listen": "127.0.0.1:0",`, `"listen": "127.0.0.1:0"`, "proxy.json:4: invalid JSON"},
		{"type", `"max_request_body": 2048`, `"max_request_body": "big"`, "proxy.json:8: limits.max_request_body"},
		{"unknown field", `"ignore_headers"`, `"ignore_header"`, `proxy.json:9: unknown field "ignore_header"`},
		{"url", `"http://127.0.0.1:9002"`, `"127.0.0.1:9002"`, "proxy.json:5: new:"},
		{"key", `"cookie:uid"`, `"body:uid"`, "proxy.json:6: key:"},
		{"mode", `"treatment": "reverse-shadow"`, `"treatment": "sideways"`, "proxy.json:7: rollout.treatment:"},
		{"percent", `12.5`, `120`, "proxy.json:7: rollout.percent:"},
		{"duration", `"250ms"`, `"soon"`, "proxy.json:8: limits.shadow_timeout:"},
		{"route pattern", `"POST /orders"`, `"POST orders"`, "proxy.json:12: routes[1].pattern:"},
		{"duplicate route", `"createOrder"`, `"getOrder"`, "proxy.json:12: routes[1]: name \"getOrder\" is already used"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(goodConfig, tc.replace, tc.with, 1)
			if text == goodConfig {
				t.Fatal("replacement did not apply")
			}
			_, err := ParseConfig("proxy.json", []byte(text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestWatchFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "proxy.json")
	if err := os.WriteFile(path, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	calls := make(chan struct{}, 10)
	stop, err := WatchFile(path, func() { calls <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	// Another file of the directory is not the file.
	if err := os.WriteFile(filepath.Join(dir, "other.json"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case <-calls:
		t.Fatal("a change of another file called back")
	case <-time.After(3 * watchDebounce):
	}
	// An editor's save: a temporary file, written, renamed over the file.
	tmp := filepath.Join(dir, "proxy.json.tmp")
	if err := os.WriteFile(tmp, []byte(`{"migration": "orders"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	select {
	case <-calls:
	case <-time.After(waitLimit):
		t.Fatal("the change was not seen")
	}
	stop()
	stop() // idempotent
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(goodConfig))
	f.Add([]byte(`{"routes": [{"pattern": "/{a...}/b"}], "limits": {"shadow_timeout": "-1s"}}`))
	f.Add([]byte(`[1, {"a": [2, {"b": 3}]}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseConfig("fuzz.json", data) // must not panic
		_ = lineOf(data, "routes[1].pattern")
		_ = lineOfKey(data, "pattern")
	})
}
