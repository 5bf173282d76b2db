package dashboard

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/server"
)

// Cookie names.
const (
	// SessionCookie holds the session id.
	SessionCookie = "cutover_session"
	// SigninCookie holds the sign-in form's CSRF token (double submit:
	// before sign-in there is no session to tie it to).
	SigninCookie = "cutover_signin"
)

// session is one signed-in browser. Its fields never change after
// creation, so it is read without a lock.
type session struct {
	principal server.Principal
	// tokenHash is the hex SHA-256 of the token signed in with (the
	// token's stored hash), so that a removed token ends its sessions;
	// the secret itself is not kept.
	tokenHash string
	csrf      string
	created   time.Time
	expires   time.Time
}

func (s *session) canChange() bool { return s.principal.Scope.Includes(api.ScopeOperator) }

// checkCSRF compares a submitted token with the session's in constant time.
func (s *session) checkCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.csrf)) == 1
}

// sessions keeps sessions in memory, by the SHA-256 of their id (so that
// the map lookup reveals nothing about valid ids through its timing).
// A restart signs everybody out.
type sessions struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu sync.Mutex // protects m
	m  map[[32]byte]*session
}

func newSessions(ttl time.Duration, max int, now func() time.Time) *sessions {
	return &sessions{ttl: ttl, max: max, now: now, m: map[[32]byte]*session{}}
}

// randomToken returns 32 random bytes in base64url.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create makes a session for p, signed in with the token of tokenHash, and
// returns its id.
func (ss *sessions) create(p server.Principal, tokenHash string) (string, *session) {
	id := randomToken()
	now := ss.now()
	s := &session{principal: p, tokenHash: tokenHash, csrf: randomToken(), created: now, expires: now.Add(ss.ttl)}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for k, old := range ss.m { // sweep: sign-ins are rare, the map is small
		if !now.Before(old.expires) {
			delete(ss.m, k)
		}
	}
	for len(ss.m) >= ss.max {
		var oldestKey [32]byte
		var oldest *session
		for k, o := range ss.m {
			if oldest == nil || o.created.Before(oldest.created) {
				oldestKey, oldest = k, o
			}
		}
		delete(ss.m, oldestKey)
	}
	ss.m[sha256.Sum256([]byte(id))] = s
	return id, s
}

// get returns the request's live session, or nil.
func (ss *sessions) get(r *http.Request) *session {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	key := sha256.Sum256([]byte(c.Value))
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[key]
	if s == nil {
		return nil
	}
	if !ss.now().Before(s.expires) {
		delete(ss.m, key)
		return nil
	}
	return s
}

// remove ends the request's session.
func (ss *sessions) remove(r *http.Request) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return
	}
	ss.mu.Lock()
	delete(ss.m, sha256.Sum256([]byte(c.Value)))
	ss.mu.Unlock()
}

// session returns the request's session if it is live and its token still
// exists (a token removed from the store ends its sessions at their next
// request). The error is the store's, when it could not tell.
func (h *Handler) session(r *http.Request) (*session, error) {
	s := h.sessions.get(r)
	if s == nil || s.principal.Name == server.AdminEnvActor {
		return s, nil // the environment's admin token lasts as long as the process
	}
	if _, err := h.svc.Store().TokenByHash(r.Context(), s.tokenHash); err != nil {
		if server.ErrorCode(err) == api.CodeNotFound {
			h.sessions.remove(r)
			return nil, nil
		}
		return nil, err
	}
	return s, nil
}

func (h *Handler) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || h.secure,
	}
}

// ---- sign-in and sign-out ----

type signinView struct {
	CSRF    string
	Next    string
	Message string
}

// safeNext keeps a post-sign-in destination on this site: a path, never
// another host ("//evil", "/\evil", "https://…").
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}

func (h *Handler) signinPage(w http.ResponseWriter, r *http.Request) {
	if s, _ := h.session(r); s != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	h.showSignin(w, r, http.StatusOK, r.URL.Query().Get("next"), "")
}

func (h *Handler) showSignin(w http.ResponseWriter, r *http.Request, status int, next, msg string) {
	token := randomToken()
	http.SetCookie(w, h.cookie(r, SigninCookie, token, 3600))
	h.render(w, r, status, "signin", h.layout(nil, "Sign in", signinView{CSRF: token, Next: safeNext(next), Message: msg}))
}

func (h *Handler) signin(w http.ResponseWriter, r *http.Request) {
	if err := h.origin.Check(r); err != nil {
		h.renderError(w, r, nil, http.StatusForbidden, "Cross-site request refused",
			"This sign-in form was sent from another site. Open the dashboard directly and sign in there.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		h.showSignin(w, r, http.StatusBadRequest, "", "The form could not be read: try again.")
		return
	}
	next := r.PostForm.Get("next")
	c, err := r.Cookie(SigninCookie)
	form := r.PostForm.Get("csrf")
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) != 1 {
		h.showSignin(w, r, http.StatusForbidden, next, "The sign-in form expired (or your browser blocks cookies): try again.")
		return
	}
	secret := strings.TrimSpace(r.PostForm.Get("token"))
	if secret == "" {
		h.showSignin(w, r, http.StatusBadRequest, next, "Paste a token: `cutover token create --scope operator` makes one.")
		return
	}
	p, err := h.svc.Authenticate(r.Context(), secret)
	if err != nil {
		if server.ErrorCode(err) == api.CodeUnauthorized {
			h.showSignin(w, r, http.StatusUnauthorized, next, "That token is not known to this server: check it, or ask an administrator for one (cutover token create).")
			return
		}
		h.logInternal(r, err)
		h.showSignin(w, r, http.StatusServiceUnavailable, next, "The server could not check the token just now: try again in a moment.")
		return
	}
	h.sessions.remove(r) // a sign-in replaces the browser's earlier session
	id, _ := h.sessions.create(p, server.HashSecret(secret))
	http.SetCookie(w, h.cookie(r, SessionCookie, id, int(h.sessions.ttl.Seconds())))
	http.SetCookie(w, h.cookie(r, SigninCookie, "", -1))
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

func (h *Handler) signout(w http.ResponseWriter, r *http.Request) {
	s, _ := h.session(r)
	if s == nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	if !h.checkPost(w, r, s) {
		return
	}
	h.sessions.remove(r)
	http.SetCookie(w, h.cookie(r, SessionCookie, "", -1))
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}
