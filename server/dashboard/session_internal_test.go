package dashboard

import (
	"net/http"
	"net/http/httptest"

	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/server"
)

func principal(name string) server.Principal {
	return server.Principal{Name: name, Scope: api.ScopeOperator}
}

func withCookie(id string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(&http.Cookie{Name: SessionCookie, Value: id})
	return r
}
