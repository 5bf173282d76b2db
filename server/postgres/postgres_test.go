package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/internal/testenv"
	"github.com/cutover/cutover/server"
	"github.com/cutover/cutover/server/postgres"
	"github.com/cutover/cutover/server/storetest"
	"github.com/jackc/pgx/v5"
)

func open(t *testing.T, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) server.Store {
		return open(t, testenv.PostgresURL(t))
	})
}

func TestSchemaMigratesOnceAcrossReplicas(t *testing.T) {
	url := testenv.PostgresURL(t)
	errs := make(chan error, 3)
	stores := make(chan *postgres.Store, 3)
	for range 3 {
		go func() {
			s, err := postgres.Open(context.Background(), url)
			errs <- err
			stores <- s
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		s := <-stores
		if v, err := s.SchemaVersion(context.Background()); err != nil || v != 1 {
			t.Fatalf("schema version %d, %v", v, err)
		}
		defer s.Close()
	}
}

func TestNotificationsAndGuardLock(t *testing.T) {
	url := testenv.PostgresURL(t)
	a, b := open(t, url), open(t, url)
	defer a.Close()
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ids := make(chan int64, 10)
	listening := make(chan error, 1)
	ready := make(chan struct{})
	go func() { listening <- b.ListenChanges(ctx, func() { close(ready) }, func(id int64) { ids <- id }) }()

	// The guard lock: one holder at a time, and it moves when released.
	la, err := a.GuardLeader(ctx)
	if err != nil || !la {
		t.Fatalf("a.GuardLeader = %v, %v; want the lock", la, err)
	}
	if lb, err := b.GuardLeader(ctx); err != nil || lb {
		t.Fatalf("b.GuardLeader = %v, %v while a holds it", lb, err)
	}
	if la, _ := a.GuardLeader(ctx); !la {
		t.Fatal("a lost the lock it holds")
	}
	a.ReleaseGuard()
	if lb, err := b.GuardLeader(ctx); err != nil || !lb {
		t.Fatalf("b.GuardLeader after a released = %v, %v", lb, err)
	}

	// A change committed through a reaches b's listener.
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("not listening after 10s")
	}
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		c, err := a.CreateMigration(ctx, storetestMigration(i), storetestChange(i))
		if err != nil {
			t.Fatal(err)
		}
		select {
		case id := <-ids:
			if id > c.ID {
				t.Fatalf("notified id %d, committed %d", id, c.ID)
			}
			cancel()
			if err := <-listening; err != nil {
				t.Fatalf("ListenChanges: %v", err)
			}
			return
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("no notification within 10s")
		}
	}
}

// TestPoolOutlivesKilledConnections kills the pool's sessions on the
// server side (a failover, an administrator's pg_terminate_backend): the
// store answers again, on new connections, without being reopened.
func TestPoolOutlivesKilledConnections(t *testing.T) {
	url := testenv.PostgresURL(t)
	const app = "cutover_pool_test"
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	s := open(t, url+sep+"application_name="+app)
	defer s.Close()
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var killed int
	if err := admin.QueryRow(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&killed); err != nil || killed == 0 {
		t.Fatalf("terminated %d sessions: %v", killed, err)
	}
	// A call may still meet a dead session (pgx cannot tell whether a
	// statement reached the server, so it is not retried); the pool drops
	// each such connection, at most its 8 idle ones.
	var last error
	for range 9 {
		if _, last = s.Migrations(ctx); last == nil {
			return
		}
	}
	t.Fatalf("the store after its sessions were killed: %v", last)
}

// TestLastAdminKeptAcrossReplicas: two servers revoking the last two admin
// tokens at once leave one, even on a server whose default isolation is
// REPEATABLE READ (where a snapshot taken before the lock would let each
// see two admins).
func TestLastAdminKeptAcrossReplicas(t *testing.T) {
	url := testenv.PostgresURL(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	url += sep + "default_transaction_isolation=repeatable%20read"
	a, b := open(t, url), open(t, url)
	defer a.Close()
	defer b.Close()
	ctx := context.Background()
	for round := range 20 {
		h := [2]string{fmt.Sprint("admin-a-", round), fmt.Sprint("admin-b-", round)}
		for _, hash := range h {
			if err := a.CreateToken(ctx, server.TokenRecord{Hash: hash, Name: hash, Scope: api.ScopeAdmin, CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		start := make(chan struct{})
		errs := make(chan error, 2)
		for i, s := range []*postgres.Store{a, b} {
			go func() {
				<-start
				_, err := s.DeleteToken(ctx, h[i], true)
				errs <- err
			}()
		}
		close(start)
		conflicts := 0
		for range 2 {
			err := <-errs
			switch {
			case server.ErrorCode(err) == api.CodeConflict:
				conflicts++
			case err != nil:
				t.Fatal(err)
			}
		}
		if n, err := a.CountTokens(ctx, api.ScopeAdmin); err != nil || n != 1 || conflicts != 1 {
			t.Fatalf("round %d: %d admin tokens left, %d refusals, %v; want 1 and 1", round, n, conflicts, err)
		}
		for _, hash := range h {
			_, _ = a.DeleteToken(ctx, hash, false)
		}
	}
}
