package diff_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/cutover/cutover/diff"
)

type Item struct {
	SKU   string
	Price int
}

type Cart struct {
	ID      int
	Items   []Item
	Tags    map[string]string
	Updated time.Time
}

func ExampleDiff() {
	old := Cart{ID: 1, Items: []Item{{"a", 100}, {"b", 250}}, Tags: map[string]string{"tier": "gold"}}
	new := Cart{ID: 1, Items: []Item{{"a", 100}, {"b", 260}, {"c", 5}}, Tags: map[string]string{}}
	for _, d := range diff.Diff(old, new) {
		fmt.Println(d)
	}
	// Output:
	// .Items[1].Price: 250 != 260
	// .Items[2]: <missing> != diff_test.Item{SKU:"c", Price:5}
	// .Tags["tier"]: "gold" != <missing>
}

func ExampleNew() {
	c, err := diff.New(diff.Options{
		IgnorePaths:    []string{".Updated", `.Tags["trace"]`},
		UnorderedPaths: []string{".Items"},
		Equalities: []diff.Equality{
			diff.EqualFunc(func(a, b string) bool { return strings.EqualFold(a, b) }),
		},
	})
	if err != nil {
		panic(err)
	}
	old := Cart{
		Items:   []Item{{"a", 1}, {"b", 2}},
		Tags:    map[string]string{"trace": "x1", "tier": "Gold"},
		Updated: time.Now(),
	}
	new := Cart{
		Items: []Item{{"B", 2}, {"a", 1}},
		Tags:  map[string]string{"trace": "y2", "tier": "gold"},
	}
	fmt.Println(c.Equal(old, new))

	_, err = diff.New(diff.Options{IgnorePaths: []string{".Items["}})
	fmt.Println(err)
	// Output:
	// true
	// diff: IgnorePaths[0] ".Items[": unbalanced '[': write [3], [*] or ["key"]
}

func ExampleSignature() {
	a := []Cart{{Items: []Item{{"a", 1}, {"b", 2}}}, {ID: 7}}
	b := []Cart{{Items: []Item{{"a", 3}, {"b", 4}}}, {ID: 8}}
	diffs := diff.Diff(a, b)
	for _, d := range diffs {
		fmt.Println(d)
	}
	fmt.Println(diff.Signature(diffs))
	// Output:
	// [0].Items[0].Price: 1 != 3
	// [0].Items[1].Price: 2 != 4
	// [1].ID: 7 != 8
	// [*].ID [*].Items[*].Price
}

func ExampleDiffJSON() {
	diffs, err := diff.DiffJSON(
		[]byte(`{"id": 1, "total": 10.50, "items": [{"sku": "a"}], "x-trace": "1"}`),
		[]byte(`{"id": 1.0, "total": 10.5, "items": [{"sku": "b"}], "x-trace": "2"}`),
	)
	if err != nil {
		panic(err)
	}
	for _, d := range diffs {
		fmt.Println(d)
	}

	_, err = diff.DiffJSON([]byte(`{}`), []byte(`{"id": }`))
	fmt.Println(err)
	// Output:
	// .items[0].sku: "a" != "b"
	// ["x-trace"]: "1" != "2"
	// diff: new document: invalid character '}' looking for beginning of value
}
