package dashboard_test

import (
	"context"
	"database/sql"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/server/dashboard"
	"github.com/cutover/cutover/server/servertest"

	_ "modernc.org/sqlite" // to remove a token as an operator would
)

func TestSignInCookie(t *testing.T) {
	e := start(t, dashboard.Config{})
	tok := e.token(t, "alice", api.ScopeOperator)
	c := newClient(t, e.URL)

	// Pages need a session.
	if a := c.get("/migrations/x"); a.StatusCode != http.StatusSeeOther || a.Header.Get("Location") != "/signin?next=%2Fmigrations%2Fx" {
		t.Fatalf("without a session: %d %q, want a redirect to the sign-in page", a.StatusCode, a.Header.Get("Location"))
	}
	if a := c.get("/fragments/overview"); a.StatusCode != http.StatusUnauthorized {
		t.Fatalf("fragment without a session: %d, want 401", a.StatusCode)
	}

	page := c.get("/signin")
	token := csrf(t, page.Body)

	// A wrong token, a missing sign-in CSRF token, a cross-site post.
	if a := c.post("/signin", url.Values{"csrf": {token}, "token": {"cutover_nope"}}); a.StatusCode != http.StatusUnauthorized || !strings.Contains(a.Body, "not known") {
		t.Fatalf("unknown token: %d %s", a.StatusCode, a.Body)
	}
	token = csrf(t, c.get("/signin").Body)
	if a := c.post("/signin", url.Values{"token": {tok}}); a.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-in without its CSRF token: %d, want 403", a.StatusCode)
	}
	token = csrf(t, c.get("/signin").Body)
	if a := c.post("/signin", url.Values{"csrf": {token}, "token": {tok}}, "Origin", "http://evil.example"); a.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin sign-in: %d, want 403", a.StatusCode)
	}

	a := c.post("/signin", url.Values{"csrf": {token}, "token": {tok}, "next": {"//evil.example/x"}})
	if a.StatusCode != http.StatusSeeOther || a.Header.Get("Location") != "/" {
		t.Fatalf("sign-in: %d to %q, want 303 to / (an off-site next is dropped)", a.StatusCode, a.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, ck := range a.Cookies() {
		if ck.Name == dashboard.SessionCookie {
			session = ck
		}
	}
	if session == nil {
		t.Fatalf("no session cookie in %v", a.Header["Set-Cookie"])
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Secure || session.Path != "/" {
		t.Errorf("session cookie over plain HTTP: %+v; want HttpOnly, SameSite=Strict, not Secure, Path=/", session)
	}
	if len(session.Value) < 43 {
		t.Errorf("session id %q is shorter than 32 random bytes", session.Value)
	}
	if a := c.get("/"); a.StatusCode != http.StatusOK || !strings.Contains(a.Body, `id="user-name">alice<`) {
		t.Fatalf("overview after sign-in: %d\n%s", a.StatusCode, a.Body)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
		if a.Header.Get(h) == "" {
			t.Errorf("the page lacks the %s header", h)
		}
	}

	// Sign out needs the CSRF token, and ends the session.
	csrfToken := csrf(t, c.get("/").Body)
	if a := c.post("/signout", url.Values{}); a.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-out without CSRF: %d, want 403", a.StatusCode)
	}
	if a := c.post("/signout", url.Values{"csrf": {csrfToken}}); a.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", a.StatusCode)
	}
	if a := c.get("/"); a.StatusCode != http.StatusSeeOther {
		t.Fatalf("after sign-out: %d, want a redirect to sign in", a.StatusCode)
	}
}

func TestSecureCookieOverTLS(t *testing.T) {
	e := start(t, dashboard.Config{})
	tok := e.token(t, "alice", api.ScopeOperator)
	ts := httptest.NewTLSServer(dashboard.New(e.svc, dashboard.Config{}))
	defer ts.Close()
	c := newClient(t, ts.URL)
	c.http.Transport = ts.Client().Transport
	page := c.get("/signin")
	a := c.post("/signin", url.Values{"csrf": {csrf(t, page.Body)}, "token": {tok}})
	if a.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in over TLS: %d %s", a.StatusCode, a.Body)
	}
	for _, ck := range a.Cookies() {
		if ck.Name == dashboard.SessionCookie {
			if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
				t.Fatalf("session cookie over TLS: %+v, want Secure, HttpOnly, SameSite=Strict", ck)
			}
			return
		}
	}
	t.Fatal("no session cookie")
}

func TestCSRF(t *testing.T) {
	e := start(t, dashboard.Config{})
	e.create(t, "orders", nil)
	c := newClient(t, e.URL)
	token := c.signIn(e.token(t, "alice", api.ScopeOperator))
	form := func(csrf string) url.Values {
		return url.Values{"csrf": {csrf}, "version": {"1"}, "action": {"advance"}, "reason": {"start comparing"}}
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		header []string
		want   int
	}{
		{"no token", form(""), nil, http.StatusForbidden},
		{"wrong token", form(token[:len(token)-2] + "xx"), nil, http.StatusForbidden},
		{"another origin", form(token), []string{"Origin", "http://evil.example"}, http.StatusForbidden},
		{"cross-site fetch", form(token), []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"same origin", form(token), []string{"Origin", e.URL, "Sec-Fetch-Site", "same-origin"}, http.StatusOK},
	} {
		a := c.post("/migrations/orders/confirm", tc.form, tc.header...)
		if a.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d\n%s", tc.name, a.StatusCode, tc.want, a.Body)
		}
	}
	// The rollout endpoint is guarded the same way; nothing changed.
	if a := c.post("/migrations/orders/rollout", url.Values{"version": {"1"}, "mode": {"shadow"}, "treatment": {"shadow"}, "percent": {"0"}, "reason": {"x"}}); a.StatusCode != http.StatusForbidden {
		t.Errorf("rollout without CSRF: %d, want 403", a.StatusCode)
	}
	if m, _ := e.svc.Migration(context.Background(), "orders"); m.Version != 1 {
		t.Fatalf("the migration changed: version %d", m.Version)
	}
	// Another session's token is not this session's.
	other := newClient(t, e.URL)
	otherToken := other.signIn(e.token(t, "carol", api.ScopeOperator))
	if a := c.post("/migrations/orders/confirm", form(otherToken)); a.StatusCode != http.StatusForbidden {
		t.Errorf("another session's CSRF token: %d, want 403", a.StatusCode)
	}
}

func TestEscaping(t *testing.T) {
	e := start(t, dashboard.Config{})
	e.create(t, "orders", nil)
	e.set(t, "orders", cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeShadow}, false, `reason with <b>markup</b>`)
	e.ingest(t, xssAggregate("orders", cutover.ModeShadow))
	c := newClient(t, e.URL)
	c.signIn(e.token(t, `alice <i>`, api.ScopeOperator))
	for _, path := range []string{"/migrations/orders", "/fragments/migrations/orders", "/", "/fragments/overview"} {
		a := c.get(path)
		if a.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, a.StatusCode)
		}
		for _, raw := range []string{"<script>window", "<img src=x", "<b>markup", "<i>"} {
			if strings.Contains(a.Body, raw) {
				t.Errorf("%s contains %q unescaped", path, raw)
			}
		}
	}
	a := c.get("/migrations/orders")
	for _, s := range []string{xssScript, xssAttr, ".Note" + xssAttr, "key" + xssScript} {
		if !strings.Contains(a.Body, html.EscapeString(s)) {
			t.Errorf("the page does not show %q as text", s)
		}
	}
}

func TestViewOnlyToken(t *testing.T) {
	e := start(t, dashboard.Config{})
	e.create(t, "orders", nil)
	c := newClient(t, e.URL)
	token := c.signIn(e.token(t, "billing-service", api.ScopeSDK))
	a := c.get("/migrations/orders")
	if a.StatusCode != http.StatusOK || strings.Contains(a.Body, `id="advance-form"`) || !strings.Contains(a.Body, `id="viewonly-note"`) {
		t.Fatalf("an sdk session sees controls (status %d)", a.StatusCode)
	}
	for _, path := range []string{"/migrations/orders/confirm", "/migrations/orders/rollout"} {
		a := c.post(path, url.Values{"csrf": {token}, "version": {"1"}, "action": {"advance"}, "mode": {"shadow"}, "treatment": {"shadow"}, "percent": {"0"}, "reason": {"sneaky"}})
		if a.StatusCode != http.StatusForbidden || !strings.Contains(a.Body, "operator token") {
			t.Errorf("POST %s with an sdk session: %d, want 403 saying an operator token is needed", path, a.StatusCode)
		}
	}
	if m, _ := e.svc.Migration(context.Background(), "orders"); m.Version != 1 {
		t.Fatalf("the migration changed: version %d", m.Version)
	}
}

func TestChangeFlow(t *testing.T) {
	e := start(t, dashboard.Config{})
	e.create(t, "orders", nil)
	c := newClient(t, e.URL)
	token := c.signIn(e.token(t, "alice", api.ScopeOperator))

	// old → shadow: confirm says what changes, apply records it as alice.
	a := c.post("/migrations/orders/confirm", url.Values{"csrf": {token}, "version": {"1"}, "action": {"advance"}, "reason": {"start comparing"}})
	if a.StatusCode != http.StatusOK || !strings.Contains(a.Body, "old → shadow for 100% of keys") {
		t.Fatalf("confirm: %d\n%s", a.StatusCode, a.Body)
	}
	a = c.post("/migrations/orders/rollout", url.Values{"csrf": {token}, "version": {"1"}, "mode": {"shadow"}, "treatment": {"shadow"}, "percent": {"0"}, "reason": {"start comparing"}})
	if a.StatusCode != http.StatusSeeOther {
		t.Fatalf("apply: %d\n%s", a.StatusCode, a.Body)
	}
	hist, err := e.svc.History(context.Background(), "orders", 0, 1)
	if err != nil || len(hist) != 1 || hist[0].Actor != "alice" || hist[0].Reason != "start comparing" || hist[0].To.Mode != cutover.ModeShadow {
		t.Fatalf("history: %+v %v", hist, err)
	}
	if a := c.get(a.Header.Get("Location")); !strings.Contains(a.Body, `class="notice ok"`) {
		t.Errorf("no confirmation notice after the change")
	}

	// shadow → reverse-shadow is refused by the gates, with figures.
	a = c.post("/migrations/orders/rollout", url.Values{"csrf": {token}, "version": {"2"}, "mode": {"reverse-shadow"}, "treatment": {"reverse-shadow"}, "percent": {"0"}, "reason": {"go"}})
	if a.StatusCode != http.StatusConflict || !strings.Contains(a.Body, "Promotion refused by the gates") || !strings.Contains(a.Body, "needs 1,000 more comparisons") {
		t.Fatalf("gate refusal: %d\n%s", a.StatusCode, a.Body)
	}

	// A stale form shows the conflict and changes nothing.
	e.set(t, "orders", cutover.Rollout{Mode: cutover.ModeOld, Treatment: cutover.ModeOld}, false, "bob rolls back")
	a = c.post("/migrations/orders/confirm", url.Values{"csrf": {token}, "version": {"2"}, "action": {"back"}, "reason": {"late"}})
	if a.StatusCode != http.StatusConflict || !strings.Contains(a.Body, "bob (cli) changed it to version 3") {
		t.Fatalf("stale confirm: %d\n%s", a.StatusCode, a.Body)
	}
	a = c.post("/migrations/orders/rollout", url.Values{"csrf": {token}, "version": {"2"}, "mode": {"old"}, "treatment": {"old"}, "percent": {"0"}, "reason": {"late"}})
	if a.StatusCode != http.StatusConflict || !strings.Contains(a.Body, "Nothing was changed") {
		t.Fatalf("stale apply: %d\n%s", a.StatusCode, a.Body)
	}
	if m, _ := e.svc.Migration(context.Background(), "orders"); m.Version != 3 {
		t.Fatalf("version %d after a refused stale change, want 3", m.Version)
	}

	// A missing reason is refused before the confirmation.
	a = c.post("/migrations/orders/confirm", url.Values{"csrf": {token}, "version": {"3"}, "action": {"set"}, "treatment": {"shadow"}, "percent": {"10"}, "reason": {" "}})
	if a.StatusCode != http.StatusBadRequest || !strings.Contains(a.Body, "reason") {
		t.Fatalf("no reason: %d", a.StatusCode)
	}
	// Treatment and percent.
	a = c.post("/migrations/orders/confirm", url.Values{"csrf": {token}, "version": {"3"}, "action": {"set"}, "treatment": {"shadow"}, "percent": {"10"}, "reason": {"canary"}})
	if a.StatusCode != http.StatusOK || !strings.Contains(a.Body, "shadow for 10% of keys, old for the other 90%") {
		t.Fatalf("set confirm: %d\n%s", a.StatusCode, a.Body)
	}
	// Unknown migration.
	if a := c.get("/migrations/nope"); a.StatusCode != http.StatusNotFound {
		t.Errorf("unknown migration: %d", a.StatusCode)
	}
}

func TestOverviewRows(t *testing.T) {
	e := start(t, dashboard.Config{})
	for i := range 3 {
		e.create(t, "m"+strconv.Itoa(i), nil)
	}
	c := newClient(t, e.URL)
	c.signIn(e.token(t, "alice", api.ScopeSDK))
	a := c.get("/")
	if n := strings.Count(a.Body, `data-migration="`); n != 3 {
		t.Fatalf("%d rows, want 3", n)
	}
}

func TestMountedBesideTheAPI(t *testing.T) {
	e := start(t, dashboard.Config{})
	c := newClient(t, e.URL)
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/api/v1/nothing": `"code":"not_found"`} {
		if a := c.get(path); !strings.Contains(a.Body, want) {
			t.Errorf("GET %s with the dashboard mounted: %d %q, want %q from the API", path, a.StatusCode, a.Body, want)
		}
	}
	if a := c.get("/metrics"); a.StatusCode != http.StatusOK || !strings.Contains(a.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("GET /metrics: %d %s", a.StatusCode, a.Header.Get("Content-Type"))
	}
	if a := c.get("/assets/style.css"); a.StatusCode != http.StatusOK || !strings.Contains(a.Header.Get("Content-Type"), "text/css") {
		t.Errorf("GET /assets/style.css: %d %s", a.StatusCode, a.Header.Get("Content-Type"))
	}
	if a := c.get("/assets/"); a.StatusCode != http.StatusNotFound {
		t.Errorf("GET /assets/: %d, want 404 (no listing)", a.StatusCode)
	}
	if a := c.get("/nowhere"); a.StatusCode != http.StatusNotFound || !strings.Contains(a.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /nowhere: %d %s, want the dashboard's 404 page", a.StatusCode, a.Header.Get("Content-Type"))
	}
}

func TestSessionExpires(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := start(t, dashboard.Config{Now: clock, SessionTTL: time.Hour})
	e.create(t, "orders", nil)
	c := newClient(t, e.URL)
	token := c.signIn(e.token(t, "alice", api.ScopeOperator))
	mu.Lock()
	now = now.Add(59 * time.Minute)
	mu.Unlock()
	if a := c.get("/"); a.StatusCode != http.StatusOK {
		t.Fatalf("within the session's time: %d", a.StatusCode)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if a := c.get("/migrations/orders"); a.StatusCode != http.StatusSeeOther {
		t.Errorf("after expiry: %d, want a redirect to sign in", a.StatusCode)
	}
	if a := c.get("/fragments/migrations/orders"); a.StatusCode != http.StatusUnauthorized {
		t.Errorf("fragment after expiry: %d, want 401", a.StatusCode)
	}
	a := c.post("/migrations/orders/confirm", url.Values{"csrf": {token}, "version": {"1"}, "action": {"advance"}, "reason": {"late"}})
	if a.StatusCode != http.StatusUnauthorized || !strings.Contains(a.Body, "sign in again") {
		t.Errorf("change after expiry: %d", a.StatusCode)
	}
}

func TestRemovedTokenEndsSessions(t *testing.T) {
	dir := t.TempDir()
	e := start(t, dashboard.Config{}, servertest.WithDataDir(dir))
	c := newClient(t, e.URL)
	c.signIn(e.token(t, "mallory", api.ScopeOperator))
	if a := c.get("/"); a.StatusCode != http.StatusOK {
		t.Fatalf("signed in: %d", a.StatusCode)
	}
	// Revoke the token as docs/operations.md says: delete its row.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "cutover.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM tokens WHERE name = 'mallory'`); err != nil {
		t.Fatal(err)
	}
	if a := c.get("/"); a.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the token was removed: %d, want a redirect to sign in", a.StatusCode)
	}
}
