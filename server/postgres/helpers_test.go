package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/server"
	"go.uber.org/goleak"
)

func storetestMigration(i int) server.Migration {
	now := time.Now().UTC()
	return server.Migration{Migration: api.Migration{Name: fmt.Sprint("m", i), Version: 1, CreatedAt: now, UpdatedAt: now}}
}

func storetestChange(i int) api.Change {
	return api.Change{Migration: fmt.Sprint("m", i), Version: 1, Kind: "created", Reason: "created", Time: time.Now().UTC()}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
