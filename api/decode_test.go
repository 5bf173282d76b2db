package api_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/cutover/cutover/api"
)

func TestDecodeFields(t *testing.T) {
	for _, tc := range []struct {
		body  string
		field string
	}{
		{`{"mode":"sideways"}`, "mode"},
		{`{"mode":"old","colour":1}`, "colour"},
		{`{"overrides":{"a":"old","b":"up"}}`, `overrides["b"]`},
		{`{"percent":"x"}`, "percent"},
		{`{"version":1.5}`, "version"},
		{`{"mode":`, ""},
		{`{} []`, ""},
	} {
		var c api.RolloutChange
		err := api.DecodeFields([]byte(tc.body), &c)
		var fe *api.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: %v, want field %q", tc.body, err, tc.field)
		}
	}
	var b api.ReportBatch
	err := api.DecodeFields([]byte(`{"batch_id":"x","aggregates":[{"migration":"m"},{"mode":"nope"}]}`), &b)
	var fe *api.FieldError
	if !errors.As(err, &fe) || fe.Field != "aggregates[1].mode" {
		t.Fatalf("nested: %v", err)
	}
	err = api.DecodeFields([]byte(`{"guard":{"window":"soon"}}`), &api.CreateMigration{})
	if !errors.As(err, &fe) || fe.Field != "guard.window" {
		t.Fatalf("duration: %v", err)
	}
	if err := api.DecodeFields([]byte(`{"mode":"shadow","treatment":"new","percent":1.5,"reason":"r","version":3}`), &api.RolloutChange{}); err != nil {
		t.Fatal(err)
	}
}

// FuzzDecodeRequests feeds arbitrary bodies to the decoding of every
// request type: it must never panic, must name a field or the body on
// failure, and what it accepts must survive a round trip.
func FuzzDecodeRequests(f *testing.F) {
	for _, s := range []string{
		`{"mode":"shadow","treatment":"reverse-shadow","percent":10,"overrides":{"t":"new"},"reason":"r","version":1}`,
		`{"name":"orders","gates":{"min_comparisons":5,"min_time_at_full":"10m"},"guard":{"webhook":"http://x"}}`,
		`{"batch_id":"b","aggregates":[{"migration":"m","mode":"shadow","start":"2026-01-01T00:00:00Z","counts":{"match":1},"old_latency":"AgM="}]}`,
		`{"name":"ci","scope":"sdk"}`, `[]`, `null`, `{"mode":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range []any{&api.RolloutChange{}, &api.CreateMigration{}, &api.ReportBatch{}, &api.CreateToken{}, &api.VerifyReport{}} {
			err := api.DecodeFields(data, v)
			if err != nil {
				var fe *api.FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("%T: error %v is not a *FieldError", v, err)
				}
				continue
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("%T: re-encoding: %v", v, err)
			}
			if err := api.Decode(out, v); err != nil {
				t.Fatalf("%T: %s decoded but its encoding %s does not: %v", v, data, out, err)
			}
		}
	})
}
