package api

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// FieldError is a request body that did not decode, with the JSON path of
// the field at fault ("mode", "aggregates[2].counts", "" for the body as a
// whole).
type FieldError struct {
	Field string
	Err   error
}

// Error returns "field: what is wrong".
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Err.Error()
	}
	return e.Field + ": " + e.Err.Error()
}

// Unwrap returns the decoding error.
func (e *FieldError) Unwrap() error { return e.Err }

// DecodeFields is [Decode] that, when it fails, returns a [*FieldError]
// naming the field at fault: an unknown field, a value of the wrong type,
// or a value its type refuses (an unknown mode, a bad duration).
func DecodeFields(data []byte, v any) error {
	err := Decode(data, v)
	if err == nil {
		return nil
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) || !json.Valid(data) {
		return &FieldError{Err: fmt.Errorf("the body is not valid JSON: %v", err)}
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) && typ.Field != "" {
		return &FieldError{Field: typ.Field, Err: fmt.Errorf("a JSON %s does not fit here: want %s", typ.Value, typeName(typ.Type))}
	}
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil {
		if path, ferr, ok := locate(bytes.TrimSpace(data), t); ok {
			return &FieldError{Field: path, Err: ferr}
		}
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		name, _ := strconv.Unquote(f)
		return &FieldError{Field: name, Err: errors.New("unknown field")}
	}
	return &FieldError{Err: err}
}

func typeName(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
)

// locate finds the innermost field of raw, decoded as type t, that fails
// to decode strictly.
func locate(raw []byte, t reflect.Type) (string, error, bool) {
	custom := reflect.PointerTo(t).Implements(textUnmarshaler) || reflect.PointerTo(t).Implements(jsonUnmarshaler)
	switch {
	case !custom && t.Kind() == reflect.Struct && len(raw) > 0 && raw[0] == '{':
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			break
		}
		fields := jsonFields(t)
		for key, val := range obj {
			ft, ok := fields[key]
			if !ok {
				// encoding/json matches names case-insensitively.
				for name, typ := range fields {
					if strings.EqualFold(name, key) {
						ft, ok = typ, true
						break
					}
				}
			}
			if !ok {
				return key, errors.New("unknown field"), true
			}
			if p, err, bad := locate(val, ft); bad {
				return join(key, p), err, true
			}
		}
		return "", nil, false
	case !custom && t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8 && len(raw) > 0 && raw[0] == '[':
		var arr []json.RawMessage
		if json.Unmarshal(raw, &arr) != nil {
			break
		}
		for i, val := range arr {
			if p, err, bad := locate(val, t.Elem()); bad {
				return join("["+strconv.Itoa(i)+"]", p), err, true
			}
		}
		return "", nil, false
	case !custom && t.Kind() == reflect.Map && len(raw) > 0 && raw[0] == '{':
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			break
		}
		for key, val := range obj {
			k := reflect.New(t.Key())
			if tu, ok := k.Interface().(encoding.TextUnmarshaler); ok {
				if err := tu.UnmarshalText([]byte(key)); err != nil {
					return "[" + strconv.Quote(key) + "]", err, true
				}
			}
			if p, err, bad := locate(val, t.Elem()); bad {
				return join("["+strconv.Quote(key)+"]", p), err, true
			}
		}
		return "", nil, false
	}
	if err := Decode(raw, reflect.New(t).Interface()); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			err = fmt.Errorf("a JSON %s does not fit here: want %s", typ.Value, typeName(t))
		}
		return "", err, true
	}
	return "", nil, false
}

func join(a, b string) string {
	switch {
	case b == "":
		return a
	case strings.HasPrefix(b, "["):
		return a + b
	}
	return a + "." + b
}

// jsonFields maps the JSON names of a struct's fields (embedded structs
// flattened) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, dup := out[k]; !dup {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		out[name] = ft
	}
	return out
}
