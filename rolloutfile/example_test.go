package rolloutfile_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/rolloutfile"
)

// A service follows its migrations' rollouts from a file; an operator edits
// the file and the service moves, without a restart.
func Example() {
	dir, err := os.MkdirTemp("", "rollouts")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "rollouts.json")
	err = os.WriteFile(path, []byte(`{"migrations": {
		"orders-customer-id": {"mode": "shadow", "overrides": {"tenant-test": "new"}}
	}}`), 0o644)
	if err != nil {
		log.Fatal(err)
	}

	reloaded := make(chan rolloutfile.Status, 10)
	src, err := rolloutfile.Open(path, rolloutfile.Options{
		OnReload: func(st rolloutfile.Status) { reloaded <- st }, // only to wait for it here
	})
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	m, err := cutover.New(cutover.Config{Name: "orders-customer-id", Source: src})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close(context.Background())
	fmt.Println("before:", m.ModeFor("customer-1"), m.ModeFor("tenant-test"))

	// The operator's edit, saved the way editors do: a new file renamed
	// over the old one.
	tmp := path + ".tmp"
	os.WriteFile(tmp, []byte(`{"migrations": {"orders-customer-id": {"mode": "reverse-shadow"}}}`), 0o644)
	os.Rename(tmp, path)
	st := <-reloaded
	fmt.Println("reloaded:", st.Migrations, st.LastError)
	fmt.Println("after:", m.ModeFor("customer-1"), m.ModeFor("tenant-test"))
	// Output:
	// before: shadow new
	// reloaded: [orders-customer-id] <nil>
	// after: reverse-shadow reverse-shadow
}
