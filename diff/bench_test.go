package diff

import (
	"reflect"
	"testing"
	"time"
)

// Address, LineItem and Order are a realistic value to compare: what a
// migration's read might return.
type Address struct {
	Street, City, Postcode, Country string
}

type LineItem struct {
	SKU      string
	Name     string
	Price    int64 // cents
	Quantity int
	Discount float64
}

type Order struct {
	ID       int64
	Customer string
	Placed   time.Time
	Shipping *Address
	Items    []LineItem
	Status   string
}

// newOrder builds a fresh order, sharing no memory with any other: two calls
// give equal values that the comparer cannot short-circuit by pointer.
func newOrder() *Order {
	items := make([]LineItem, 8)
	for i := range items {
		items[i] = LineItem{
			SKU:      "SKU-" + string(rune('A'+i)),
			Name:     "Widget " + string(rune('A'+i)),
			Price:    int64(100 * (i + 1)),
			Quantity: i + 1,
			Discount: 0.05 * float64(i),
		}
	}
	return &Order{
		ID:       42,
		Customer: "customer-7",
		Placed:   time.Date(2026, 11, 25, 13, 0, 0, 123456789, time.UTC),
		Shipping: &Address{Street: "1 Main St", City: "Springfield", Postcode: "12345", Country: "US"},
		Items:    items,
		Status:   "shipped",
	}
}

func BenchmarkCompare(b *testing.B) {
	c := MustNew(Options{})
	x, y := newOrder(), newOrder()
	var xa, ya any = *x, *y
	z := newOrder()
	z.Items[3].Price++
	z.Status = "cancelled"
	var za any = *z

	b.Run("equal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !c.Equal(xa, ya) {
				b.Fatal("not equal")
			}
		}
	})
	b.Run("different", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if len(c.Diff(xa, za)) != 2 {
				b.Fatal("want 2 differences")
			}
		}
	})
	b.Run("reflect-deepequal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !reflect.DeepEqual(xa, ya) {
				b.Fatal("not equal")
			}
		}
	})
}
