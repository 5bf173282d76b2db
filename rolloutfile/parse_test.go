package rolloutfile

import (
	"errors"
	"strings"
	"testing"

	"github.com/cutover/cutover"
)

func TestParseValid(t *testing.T) {
	got, err := parse("r.json", []byte(`{"migrations": {
		"orders-customer-id": {"mode": "shadow", "treatment": "reverse-shadow", "percent": 5, "overrides": {"tenant-test": "new"}},
		"invoices": {"mode": "NEW"},
		"empty": {}
	}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]cutover.Rollout{
		"orders-customer-id": {Mode: cutover.ModeShadow, Treatment: cutover.ModeReverseShadow, Percent: 5,
			Overrides: map[string]cutover.Mode{"tenant-test": cutover.ModeNew}},
		"invoices": {Mode: cutover.ModeNew},
		"empty":    {},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d migrations, want %d: %v", len(got), len(want), got)
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || !g.Equal(w) || g.Treatment != w.Treatment {
			t.Errorf("%s: got %v, want %v", name, g, w)
		}
	}
}

func TestParseErrorsSayWhatAndWhere(t *testing.T) {
	for _, tc := range []struct {
		name, file       string
		line, col        int
		field, errSubstr string
	}{
		{"empty", "  \n", 1, 1, "", "empty"},
		{"truncated", "{\"migrations\": {\n  \"orders\": {\"mode\": \"sha", 2, 26, "", "not valid JSON: unexpected end"},
		{"syntax", "{\"migrations\": {\n  \"orders\": {\"mode\" \"shadow\"}}}", 2, 22, "", "not valid JSON"},
		{"not an object", `["orders"]`, 1, 1, "", "want an object"},
		{"unknown top field", "{\n \"migration\": {}}", 2, 2, "", `unknown field "migration"`},
		{"no migrations", `{}`, 1, 1, "", `missing field "migrations"`},
		{"migrations array", `{"migrations": []}`, 1, 16, "migrations", "want an object of migration name"},
		{"rollout string", `{"migrations": {"orders": "shadow"}}`, 1, 27, `migrations["orders"]`, "want a rollout object"},
		{"unknown rollout field", "{\"migrations\": {\"orders\": {\n\t\"mode\": \"shadow\",\n\t\"percnt\": 5}}}", 3, 2,
			`migrations["orders"]`, `unknown field "percnt": a rollout has mode, treatment, percent, overrides`},
		{"invalid mode", "{\"migrations\": {\"orders\": {\n  \"mode\": \"shaddow\"}}}", 2, 11,
			`migrations["orders"].mode`, `invalid mode "shaddow": want one of old, shadow, reverse-shadow, new`},
		{"numeric treatment", `{"migrations": {"orders": {"treatment": 2}}}`, 1, 41,
			`migrations["orders"].treatment`, "want a mode name (old, shadow, reverse-shadow, new), got a JSON number"},
		{"invalid override", `{"migrations": {"orders": {"overrides": {"t": "newer"}}}}`, 1, 47,
			`migrations["orders"].overrides["t"]`, `invalid mode "newer"`},
		{"percent string", `{"migrations": {"orders": {"percent": "5"}}}`, 1, 39,
			`migrations["orders"].percent`, "want a number from 0 to 100, got a JSON string"},
		{"percent range", `{"migrations": {"orders": {"percent": 150}}}`, 1, 39,
			`migrations["orders"].percent`, "150 is outside 0 to 100"},
		{"percent decimals", `{"migrations": {"orders": {"percent": 0.001}}}`, 1, 39,
			`migrations["orders"].percent`, "more than two decimals"},
		{"duplicate", "{\"migrations\": {\n\"a\": {},\n\"a\": {}}}", 3, 1, `migrations["a"]`, "appears twice (first at line 2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse("r.json", []byte(tc.file))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("parse = %v; want a *ParseError", err)
			}
			if pe.Line != tc.line || pe.Column != tc.col || pe.Field != tc.field || !strings.Contains(pe.Err.Error(), tc.errSubstr) {
				t.Errorf("got %d:%d field %q err %q\nwant %d:%d field %q err containing %q",
					pe.Line, pe.Column, pe.Field, pe.Err, tc.line, tc.col, tc.field, tc.errSubstr)
			}
			if !strings.HasPrefix(err.Error(), "r.json:") {
				t.Errorf("message %q does not start with the file", err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"migrations": {"orders": {"mode": "shadow", "treatment": "new", "percent": 5, "overrides": {"t": "new"}}}}`))
	f.Add([]byte(`{"migrations": {"orders": {"percnt": 5}}}`))
	f.Add([]byte(`{"migrations": {"a": {}, "a": []}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rollouts, err := parse("f.json", data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 || pe.Column < 1 {
				t.Fatalf("error %v is not a located *ParseError", err)
			}
			return
		}
		for name, r := range rollouts {
			if err := r.Validate(); err != nil {
				t.Fatalf("%s: parse accepted an invalid rollout: %v", name, err)
			}
		}
	})
}
