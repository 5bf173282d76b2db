package dashboard_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/server/dashboard"
)

// fast polls quickly, so live updates show up soon in the tests of live
// updates; the others poll at the default pace, so that the elements they
// click are not replaced under them.
var (
	fast = dashboard.Config{Refresh: 200 * time.Millisecond}
	slow = dashboard.Config{}
)

func TestBrowserSignInAndOverview(t *testing.T) {
	e := start(t, slow)
	e.create(t, "orders", nil)
	e.create(t, "invoices", nil)
	e.set(t, "invoices", cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeShadow}, false, "start comparing")
	ctx := tab(t)
	signInBrowser(t, ctx, e.URL, e.token(t, "alice", api.ScopeOperator))
	run(t, ctx, chromedp.WaitVisible(chromedp.CSS(`#migrations tr[data-migration="orders"]`)))
	contains(t, "overview", text(t, ctx, "#migrations"), "orders", "invoices", "shadow", "ready: leaving old needs no evidence", "bob (cli)", "start comparing")
	screenshot(t, ctx, "overview")

	// On a phone the rows stack and stay readable.
	run(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	run(t, ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#migrations tr[data-migration="orders"]`)))
	if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 400 {
		t.Errorf("the overview is %d px wide on a 390 px phone", w)
	}
	screenshot(t, ctx, "overview-phone")
}

func TestBrowserPromote(t *testing.T) {
	e := start(t, slow)
	e.create(t, "orders", nil)
	ctx := tab(t)
	signInBrowser(t, ctx, e.URL, e.token(t, "alice", api.ScopeOperator))
	run(t, ctx,
		chromedp.Click(chromedp.CSS(`a[href="/migrations/orders"]`)),
		chromedp.WaitVisible(chromedp.ID("advance-form")),
		chromedp.SetValue(chromedp.ID("advance-reason"), "start comparing on all keys"),
		chromedp.Click(chromedp.ID("advance-submit")),
		chromedp.WaitVisible(chromedp.ID("confirm-move")),
	)
	if got := text(t, ctx, "#confirm-move"); got != "old → shadow for 100% of keys" {
		t.Errorf("confirmation says %q", got)
	}
	screenshot(t, ctx, "confirm")
	run(t, ctx,
		chromedp.Click(chromedp.ID("confirm-submit")),
		chromedp.WaitVisible(chromedp.CSS("#notice.ok")),
	)
	contains(t, "latest history entry", text(t, ctx, "#history .change:first-child"), "alice", "old → shadow for 100% of keys", "start comparing on all keys")
	contains(t, "timeline", text(t, ctx, "#timeline .phase.current"), "shadow", "100%")
	m, _ := e.svc.Migration(context.Background(), "orders")
	if m.Rollout.Mode != cutover.ModeShadow {
		t.Fatalf("the migration is at %v", m.Rollout)
	}
	screenshot(t, ctx, "migration-after-promote")
}

func TestBrowserGateRefused(t *testing.T) {
	e := start(t, slow)
	e.create(t, "orders", nil)
	e.set(t, "orders", cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeShadow}, false, "start comparing")
	ctx := tab(t)
	signInBrowser(t, ctx, e.URL, e.token(t, "alice", api.ScopeOperator))
	run(t, ctx,
		chromedp.Navigate(e.URL+"/migrations/orders"),
		chromedp.WaitVisible(chromedp.ID("gate-words")),
	)
	contains(t, "gate status", text(t, ctx, "#gate-words"), "needs 1,000 more comparisons")
	run(t, ctx,
		chromedp.SetValue(chromedp.ID("advance-reason"), "looks fine to me"),
		chromedp.Click(chromedp.ID("advance-submit")),
		chromedp.WaitVisible(chromedp.ID("confirm-submit")),
		chromedp.Click(chromedp.ID("confirm-submit")),
		chromedp.WaitVisible(chromedp.CSS("#notice.refused")),
	)
	contains(t, "refusal", text(t, ctx, "#notice"), "Promotion refused by the gates", "needs 1,000 more comparisons", "comparisons", "1,000", "mismatch rate")
	screenshot(t, ctx, "gate-refused")
	if m, _ := e.svc.Migration(context.Background(), "orders"); m.Rollout.Mode != cutover.ModeShadow {
		t.Fatalf("the refused promotion moved the migration to %v", m.Rollout)
	}
}

func TestBrowserConflict(t *testing.T) {
	e := start(t, slow)
	e.create(t, "orders", nil)
	ctx := tab(t)
	signInBrowser(t, ctx, e.URL, e.token(t, "alice", api.ScopeOperator))
	run(t, ctx,
		chromedp.Navigate(e.URL+"/migrations/orders"),
		chromedp.WaitVisible(chromedp.ID("advance-form")),
		chromedp.SetValue(chromedp.ID("advance-reason"), "start comparing"),
		chromedp.Click(chromedp.ID("advance-submit")),
		chromedp.WaitVisible(chromedp.ID("confirm-submit")),
	)
	// Someone else moves the migration between the form and the submit.
	e.set(t, "orders", cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeShadow}, false, "bob was quicker")
	run(t, ctx,
		chromedp.Click(chromedp.ID("confirm-submit")),
		chromedp.WaitVisible(chromedp.CSS("#notice.conflict")),
	)
	contains(t, "conflict", text(t, ctx, "#notice"), "version 1", "version 2", "bob (cli)", "bob was quicker", "Nothing was changed")
	screenshot(t, ctx, "conflict")
	hist, _ := e.svc.History(context.Background(), "orders", 0, 0)
	if len(hist) != 2 {
		t.Fatalf("%d history entries, want 2 (created, bob's change): the stale form overwrote", len(hist))
	}
}

func TestBrowserLiveUpdate(t *testing.T) {
	e := start(t, fast)
	e.create(t, "orders", nil)
	ctx := tab(t)
	signInBrowser(t, ctx, e.URL, e.token(t, "alice", api.ScopeOperator))
	run(t, ctx,
		chromedp.Navigate(e.URL+"/migrations/orders"),
		chromedp.WaitVisible(chromedp.ID("rollout")),
		chromedp.Evaluate[chromedp.Void](`window.__loaded = performance.timeOrigin`),
	)
	e.set(t, "orders", cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeShadow}, false, "elsewhere")
	waitFor(t, ctx, `document.getElementById("rollout").textContent === "shadow for 100% of keys"`)
	run(t, ctx, chromedp.WaitVisible(chromedp.ID("stale-note")))
	if !eval[bool](t, ctx, `window.__loaded === performance.timeOrigin`) {
		t.Error("the page reloaded; want a live update in place")
	}
	contains(t, "history", text(t, ctx, "#history .change:first-child"), "elsewhere")
}

func TestBrowserEscaping(t *testing.T) {
	e := start(t, fast)
	e.create(t, "orders", nil)
	e.set(t, "orders", cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeShadow}, false, "start comparing")
	e.ingest(t, xssAggregate("orders", cutover.ModeShadow))
	ctx := tab(t)
	signInBrowser(t, ctx, e.URL, e.token(t, "alice", api.ScopeOperator))
	run(t, ctx,
		chromedp.Navigate(e.URL+"/migrations/orders"),
		chromedp.WaitVisible(chromedp.CSS("#mismatches code.key")),
	)
	check := func() {
		t.Helper()
		if got := text(t, ctx, "#mismatches code.key"); got != "key"+xssScript {
			t.Errorf("the key shows as %q", got)
		}
		if got := text(t, ctx, "#mismatches code.old-value"); got != xssScript {
			t.Errorf("the old value shows as %q", got)
		}
		if got := text(t, ctx, "#mismatches code.new-value"); got != xssAttr {
			t.Errorf("the new value shows as %q", got)
		}
		if got := text(t, ctx, "#mismatches code.path"); got != ".Note"+xssAttr {
			t.Errorf("the path shows as %q", got)
		}
		if n := eval[int](t, ctx, `document.querySelectorAll("#mismatches img, #mismatches script").length`); n != 0 {
			t.Errorf("the samples made %d elements", n)
		}
		if !eval[bool](t, ctx, `window.__xss === undefined`) {
			t.Error("a sample's markup ran")
		}
	}
	check()
	// Once more after a live update replaced the fragment.
	run(t, ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("live").removeAttribute("data-updated")`))
	waitFor(t, ctx, `document.getElementById("live").hasAttribute("data-updated")`)
	check()
	screenshot(t, ctx, "escaping")
}

func TestBrowserViewOnly(t *testing.T) {
	e := start(t, slow)
	e.create(t, "orders", nil)
	ctx := tab(t)
	signInBrowser(t, ctx, e.URL, e.token(t, "billing-service", api.ScopeSDK))
	run(t, ctx,
		chromedp.Navigate(e.URL+"/migrations/orders"),
		chromedp.WaitVisible(chromedp.ID("viewonly-note")),
	)
	if n := eval[int](t, ctx, `document.querySelectorAll("#controls form").length`); n != 0 {
		t.Errorf("an sdk session sees %d control forms", n)
	}
	// A hand-made POST with the session's CSRF token is refused too.
	status := eval[int](t, ctx, `(async () => {
		const f = new FormData();
		f.set("csrf", document.querySelector('input[name="csrf"]').value);
		for (const [k, v] of Object.entries({version: "1", mode: "shadow", treatment: "shadow", percent: "0", reason: "sneaky"})) f.set(k, v);
		const r = await fetch("/migrations/orders/rollout", {method: "POST", body: new URLSearchParams(f)});
		return r.status;
	})()`)
	if status != 403 {
		t.Errorf("an sdk session's POST: status %d, want 403", status)
	}
	screenshot(t, ctx, "migration-view-only")
	if m, _ := e.svc.Migration(context.Background(), "orders"); m.Version != 1 {
		t.Fatalf("the sdk session changed the migration: %+v", m.Rollout)
	}

	// The error page, for an unknown migration.
	run(t, ctx,
		chromedp.Navigate(e.URL+"/migrations/nope"),
		chromedp.WaitVisible(chromedp.ID("error-message")),
	)
	contains(t, "error page", text(t, ctx, "#error-message"), `"nope"`)
	screenshot(t, ctx, "error")
}
