// Package catalog is the product catalog of the V1 → V2 example: one
// product model and the two HTTP APIs that serve it.
//
// V1 (the old service) answers GET /products/{id} with
//
//	{"id": "p-1", "name": "Espresso", "price": "2.50", "currency": "EUR", "tags": ["coffee", "hot"]}
//
// V2 (the rewrite) is incompatible: "name" became "title", and the price is
// an object of integer cents:
//
//	{"id": "p-1", "title": "Espresso", "price": {"amount_cents": 250, "currency": "EUR"}, "tags": ["coffee", "hot"]}
//
// Callers of V1 cannot switch to that. So V2 also renders the V1 shape from
// its own model ([V2Options.V1Compat]), and `cutover proxy` compares that
// rendering with V1 on live traffic before any caller depends on it. The
// rendering has a bug on purpose: it formats prices with as few digits as
// possible, so 2.50 becomes "2.5" — the kind of difference a migration
// exists to find.
package catalog

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// Product is the catalog's model.
type Product struct {
	ID         string
	Name       string
	PriceCents int64
	Currency   string
	Tags       []string
}

// Products is the example's catalog, by ID.
var Products = map[string]Product{
	"p-1":  {"p-1", "Espresso", 250, "EUR", []string{"coffee", "hot"}},
	"p-2":  {"p-2", "Cappuccino", 345, "EUR", []string{"coffee", "hot", "milk"}},
	"p-3":  {"p-3", "Iced tea", 300, "EUR", []string{"tea", "cold"}},
	"p-4":  {"p-4", "Croissant", 195, "EUR", []string{"pastry"}},
	"p-5":  {"p-5", "Bagel", 275, "EUR", []string{"bread"}},
	"p-6":  {"p-6", "Orange juice", 420, "EUR", []string{"juice", "cold"}},
	"p-7":  {"p-7", "Muffin", 229, "EUR", []string{"pastry"}},
	"p-8":  {"p-8", "Flat white", 365, "EUR", []string{"coffee", "hot", "milk"}},
	"p-9":  {"p-9", "Water", 100, "EUR", []string{"cold"}},
	"p-10": {"p-10", "Brownie", 315, "EUR", []string{"pastry", "chocolate"}},
}

// V1Product is V1's JSON.
type V1Product struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Price    string   `json:"price"` // decimal, two places: "2.50"
	Currency string   `json:"currency"`
	Tags     []string `json:"tags"`
}

// V2Product is V2's own JSON.
type V2Product struct {
	ID    string   `json:"id"`
	Title string   `json:"title"`
	Price V2Price  `json:"price"`
	Tags  []string `json:"tags"`
}

// V2Price is an amount in integer cents with its currency.
type V2Price struct {
	AmountCents int64  `json:"amount_cents"`
	Currency    string `json:"currency"`
}

// V1 returns the old service's handler.
func V1() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /products/{id}", func(w http.ResponseWriter, r *http.Request) {
		p, ok := Products[r.PathValue("id")]
		if !ok {
			http.Error(w, `{"error": "no such product"}`, http.StatusNotFound)
			return
		}
		writeJSON(w, V1Product{ID: p.ID, Name: p.Name, Price: fmt.Sprintf("%d.%02d", p.PriceCents/100, p.PriceCents%100),
			Currency: p.Currency, Tags: p.Tags})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	return mux
}

// V2Options configure the new service.
type V2Options struct {
	// V1Compat serves the V1 shape on /products/{id}, rendered from V2's
	// model; V2's own shape stays on /v2/products/{id}. Zero: /products/{id}
	// serves V2's shape, which no V1 caller understands.
	V1Compat bool
}

// V2 returns the new service's handler.
func V2(opts V2Options) http.Handler {
	mux := http.NewServeMux()
	native := func(w http.ResponseWriter, r *http.Request) {
		p, ok := Products[r.PathValue("id")]
		if !ok {
			http.Error(w, `{"error": "no such product"}`, http.StatusNotFound)
			return
		}
		writeJSON(w, V2Product{ID: p.ID, Title: p.Name, Price: V2Price{p.PriceCents, p.Currency}, Tags: p.Tags})
	}
	mux.HandleFunc("GET /v2/products/{id}", native)
	if !opts.V1Compat {
		mux.HandleFunc("GET /products/{id}", native)
	} else {
		mux.HandleFunc("GET /products/{id}", func(w http.ResponseWriter, r *http.Request) {
			p, ok := Products[r.PathValue("id")]
			if !ok {
				http.Error(w, `{"error": "no such product"}`, http.StatusNotFound)
				return
			}
			// The bug shadow mode finds: as few digits as possible, so
			// 250 cents renders as "2.5" where V1 says "2.50".
			price := strconv.FormatFloat(float64(p.PriceCents)/100, 'f', -1, 64)
			writeJSON(w, V1Product{ID: p.ID, Name: p.Name, Price: price, Currency: p.Currency, Tags: p.Tags})
		})
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
