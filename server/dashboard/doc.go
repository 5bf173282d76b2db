// Package dashboard is the web face of the control plane, served by
// `cutover serve` next to the REST API: the phase of every migration, the
// evidence behind it (match rate, latency and error charts, mismatch groups,
// the gates' verdict), the audit history, and the controls that move a
// rollout one step at a time. docs/dashboard.md describes the pages.
//
// # Serving
//
// [New] returns an http.Handler for "/" and the dashboard's own paths
// ("/signin", "/signout", "/migrations/…", "/fragments/…", "/assets/…").
// The API keeps "/api/", "/healthz", "/readyz" and "/metrics": `cutover
// serve` gives the dashboard to app.Config.UI, and the API hands it every
// request outside its own routes (see the example). Templates, CSS and JavaScript are
// embedded: there is no build step, and pages work without JavaScript
// (which only adds live updates by short polling of HTML fragments).
// Charts are inline SVG drawn on the server.
//
// # Security
//
// A user signs in with an API token (any scope); the token is checked
// with [server.Service.Authenticate] and never stored (only its hash, so
// that removing the token ends its sessions), and the browser
// gets a random session id in a cookie that is HttpOnly, SameSite=Strict,
// and Secure when the request came over TLS (or [Config.SecureCookies] is
// set). Sessions live in memory, so a restart signs everybody out.
//
// Every state-changing form carries a per-session CSRF token, compared in
// constant time, and every POST must come from the same origin
// (http.CrossOriginProtection: Sec-Fetch-Site, else Origin against Host).
// A session of an sdk-scoped token may look but not change: its pages have
// no controls and its POSTs to change a rollout get 403. Changes need
// operator scope, and the audit history names the token.
//
// Everything a report brought (sample keys, paths, values, errors,
// signatures) is rendered by html/template as text; pages are sent with a
// Content-Security-Policy that allows only the dashboard's own script and
// style sheet, as a second line of defence.
package dashboard
