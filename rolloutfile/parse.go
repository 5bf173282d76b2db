package rolloutfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/cutover/cutover"
)

// ParseError says what is wrong in a rollout file, and where.
type ParseError struct {
	// Path is the file's path.
	Path string
	// Line and Column locate the problem, from 1; Column counts bytes.
	Line, Column int
	// Field is the JSON path of the offending value, such as
	// `migrations["orders"].percent`; empty when the file is not JSON at all.
	Field string
	// Err is the underlying problem.
	Err error
}

// Error reads "path:line:column: field: problem".
func (e *ParseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: ", e.Path, e.Line, e.Column)
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the underlying problem.
func (e *ParseError) Unwrap() error { return e.Err }

// rolloutFields are the JSON names of cutover.Rollout's fields.
var rolloutFields = []string{"mode", "treatment", "percent", "overrides"}

// parser decodes one file's bytes, keeping offsets to say where a problem is.
type parser struct {
	path string
	data []byte
}

func (p *parser) errorAt(offset int, field string, err error) *ParseError {
	if offset > len(p.data) {
		offset = len(p.data)
	}
	line := 1 + bytes.Count(p.data[:offset], []byte("\n"))
	col := offset - bytes.LastIndexByte(p.data[:offset], '\n')
	return &ParseError{Path: p.path, Line: line, Column: col, Field: field, Err: err}
}

// parse decodes and validates a rollout file:
//
//	{"migrations": {"name": {"mode": …, "treatment": …, "percent": …, "overrides": {…}}}}
func parse(path string, data []byte) (map[string]cutover.Rollout, error) {
	p := &parser{path: path, data: data}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, p.errorAt(0, "", errors.New(`the file is empty (half-written?); want {"migrations": {…}}`))
	}
	var syntax *json.SyntaxError
	if err := json.Unmarshal(data, new(any)); errors.As(err, &syntax) {
		return nil, p.errorAt(int(syntax.Offset), "", fmt.Errorf("not valid JSON: %v", syntax))
	} else if err != nil {
		return nil, p.errorAt(0, "", fmt.Errorf("not valid JSON: %v", err))
	}

	top, err := p.members(0, len(data), "")
	if err != nil {
		return nil, err
	}
	var migrations *member
	for i := range top {
		if top[i].name != "migrations" {
			return nil, p.errorAt(top[i].keyOffset, "", fmt.Errorf(`unknown field %q: the file holds one field, "migrations"`, top[i].name))
		}
		migrations = &top[i]
	}
	if migrations == nil {
		return nil, p.errorAt(0, "", errors.New(`missing field "migrations": want {"migrations": {"name": {"mode": "shadow", …}}}`))
	}
	entries, err := p.members(migrations.start, migrations.end, "migrations")
	if err != nil {
		return nil, err
	}
	out := make(map[string]cutover.Rollout, len(entries))
	seen := make(map[string]int, len(entries))
	for _, e := range entries {
		field := fmt.Sprintf("migrations[%q]", e.name)
		if e.name == "" {
			return nil, p.errorAt(e.keyOffset, field, errors.New("a migration needs a name"))
		}
		if at, dup := seen[e.name]; dup {
			first := p.errorAt(at, "", nil)
			return nil, p.errorAt(e.keyOffset, field, fmt.Errorf("migration %q appears twice (first at line %d)", e.name, first.Line))
		}
		seen[e.name] = e.keyOffset
		r, err := p.rollout(e, field)
		if err != nil {
			return nil, err
		}
		out[e.name] = r
	}
	return out, nil
}

// member is one "name": value pair of a JSON object, with the offsets of
// its key and of its value's first and past-last bytes in the file.
type member struct {
	name       string
	keyOffset  int
	start, end int
}

// members lists the members of the JSON object at data[start:end], which
// is known to be valid JSON.
func (p *parser) members(start, end int, field string) ([]member, error) {
	raw := p.data[start:end]
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		what := "want an object"
		if field == "migrations" {
			what = `want an object of migration name → rollout, like {"orders": {"mode": "shadow"}}`
		} else if field == "" {
			what = `want an object like {"migrations": {…}}`
		}
		return nil, p.errorAt(start, field, fmt.Errorf("%s, got %s", what, jsonKind(raw)))
	}
	var ms []member
	for dec.More() {
		keyOffset := start + skip(raw, int(dec.InputOffset()), " \t\r\n,")
		tok, err := dec.Token()
		if err != nil {
			return nil, p.errorAt(keyOffset, field, err)
		}
		name, _ := tok.(string)
		var value json.RawMessage
		valueStart := start + skip(raw, int(dec.InputOffset()), " \t\r\n:")
		if err := dec.Decode(&value); err != nil {
			return nil, p.errorAt(valueStart, field, err)
		}
		ms = append(ms, member{name: name, keyOffset: keyOffset, start: valueStart, end: valueStart + len(value)})
	}
	return ms, nil
}

// rollout decodes one migration's rollout with cutover.Rollout's own JSON
// form, rejecting unknown fields, and validates it.
func (p *parser) rollout(e member, field string) (cutover.Rollout, error) {
	fields, err := p.members(e.start, e.end, field)
	if err != nil {
		return cutover.Rollout{}, p.errorAt(e.start, field,
			fmt.Errorf(`want a rollout object like {"mode": "shadow", "treatment": "reverse-shadow", "percent": 5}, got %s`,
				jsonKind(p.data[e.start:e.end])))
	}
	byName := make(map[string]member, len(fields))
	for _, f := range fields {
		known := false
		for _, n := range rolloutFields {
			known = known || f.name == n
		}
		if !known {
			return cutover.Rollout{}, p.errorAt(f.keyOffset, field, fmt.Errorf("unknown field %q: a rollout has %s",
				f.name, strings.Join(rolloutFields, ", ")))
		}
		byName[f.name] = f
	}

	var r cutover.Rollout
	dec := json.NewDecoder(bytes.NewReader(p.data[e.start:e.end]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return cutover.Rollout{}, p.explain(e, field, byName, err)
	}
	if err := r.Validate(); err != nil {
		at, sub := e.start, ""
		for _, n := range rolloutFields {
			if f, ok := byName[n]; ok && strings.Contains(err.Error(), "rollout: "+n) {
				at, sub = f.start, "."+n
			}
		}
		return cutover.Rollout{}, p.errorAt(at, field+sub, err)
	}
	return r, nil
}

// explain turns an error from decoding a rollout into one that names the
// field and its place: it decodes each field alone to find the culprit.
func (p *parser) explain(e member, field string, byName map[string]member, err error) error {
	for _, n := range rolloutFields {
		f, ok := byName[n]
		if !ok {
			continue
		}
		value := p.data[f.start:f.end]
		var ferr error
		switch n {
		case "mode", "treatment":
			var m cutover.Mode
			ferr = json.Unmarshal(value, &m)
		case "percent":
			var v float64
			ferr = json.Unmarshal(value, &v)
		case "overrides":
			if string(value) == "null" {
				continue
			}
			keys, kerr := p.members(f.start, f.end, field+".overrides")
			if kerr != nil {
				return kerr
			}
			for _, k := range keys {
				var m cutover.Mode
				if kerr := json.Unmarshal(p.data[k.start:k.end], &m); kerr != nil {
					return p.errorAt(k.start, fmt.Sprintf("%s.overrides[%q]", field, k.name), describe(kerr))
				}
			}
		}
		if ferr != nil {
			return p.errorAt(f.start, field+"."+n, describe(ferr))
		}
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return p.errorAt(e.start+int(typeErr.Offset), field, describe(err))
	}
	return p.errorAt(e.start, field, err)
}

// describe rewords encoding/json's type errors for people editing the file.
func describe(err error) error {
	var typeErr *json.UnmarshalTypeError
	if !errors.As(err, &typeErr) {
		return err
	}
	typ := typeErr.Type
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	want := typ.String()
	switch typ {
	case reflect.TypeFor[cutover.Mode]():
		want = "a mode name (old, shadow, reverse-shadow, new)"
	case reflect.TypeFor[float64]():
		want = "a number from 0 to 100"
	case reflect.TypeFor[map[string]cutover.Mode]():
		want = `an object of key → mode name, like {"tenant-test": "new"}`
	}
	return fmt.Errorf("want %s, got a JSON %s", want, typeErr.Value)
}

// jsonKind names the kind of a JSON value for messages: "a string", "null".
func jsonKind(v []byte) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// skip returns the index of the first byte of b at or after i that is not
// in chars.
func skip(b []byte, i int, chars string) int {
	for i < len(b) && strings.IndexByte(chars, b[i]) >= 0 {
		i++
	}
	return i
}
