package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/client"
)

// A service follows its rollouts from the control plane and reports its
// evidence back to it.
func Example() {
	c, err := client.New("http://127.0.0.1:8080", "SDK-TOKEN", client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	source := c.Source(client.SourceOptions{CacheFile: "/var/lib/orders/cutover-rollouts.json"})
	defer source.Close()
	reporter := c.Reporter(client.ReporterOptions{})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := reporter.Close(ctx); err != nil {
			log.Print(err)
		}
	}()

	m, err := cutover.New(cutover.Config{
		Name:   "orders-to-payments",
		Source: source,
		Sinks:  []cutover.Sink{reporter},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close(context.Background())
	// … reads and writes through m …
}

// An operator tool tells a stale version from a refusal by the gates.
func ExampleClient_SetRollout() {
	c, err := client.New("http://127.0.0.1:8080", "OPERATOR-TOKEN", client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	cur, err := c.Migration(ctx, "orders-to-payments")
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.SetRollout(ctx, "orders-to-payments", api.RolloutChange{
		Mode:      cutover.ModeShadow,
		Treatment: cutover.ModeReverseShadow,
		Percent:   10,
		Reason:    "shadow clean for a week",
		Version:   cur.Version,
	})
	var apiErr *client.APIError
	switch {
	case err == nil:
		fmt.Println("done")
	case errors.Is(err, client.ErrConflict) && errors.As(err, &apiErr):
		fmt.Println("someone else changed it; now at version", apiErr.CurrentVersion)
	case errors.Is(err, client.ErrGateRefused) && errors.As(err, &apiErr):
		for _, c := range apiErr.Gate.Criteria {
			if !c.Pass {
				fmt.Println(c.Criterion, c.Message)
			}
		}
	default:
		log.Fatal(err)
	}
}
