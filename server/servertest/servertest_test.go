package servertest_test

import (
	"bufio"
	"net/http"
	"strings"
	"testing"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/server/servertest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStart(t *testing.T) {
	srv := servertest.Start(t)
	m := srv.CreateMigration(t, api.CreateMigration{Name: "orders"})
	if m.Version != 1 || m.Rollout.Mode != cutover.ModeOld {
		t.Fatalf("created %+v", m)
	}
	op := srv.Token(t, api.ScopeOperator)
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/watch?migration=orders", nil)
	req.Header.Set("Authorization", "Bearer "+srv.Token(t, api.ScopeSDK))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	next := func() string {
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "data: ") {
				return l
			}
		}
		t.Fatalf("stream ended: %v", sc.Err())
		return ""
	}
	if l := next(); !strings.Contains(l, `"mode":"old"`) {
		t.Fatalf("first event %s", l)
	}
	var out api.Migration
	code := srv.Do(t, op, "PUT", "/api/v1/migrations/orders/rollout", api.RolloutChange{Mode: cutover.ModeShadow, Treatment: cutover.ModeShadow, Reason: "start", Version: 1}, &out)
	if code != 200 || out.Version != 2 {
		t.Fatalf("set: %d %+v", code, out)
	}
	if l := next(); !strings.Contains(l, `"mode":"shadow"`) {
		t.Fatalf("second event %s", l)
	}
}
