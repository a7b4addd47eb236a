package api

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// decode reads a request body into v. An empty body is an empty request.
// Unknown members are ignored, as AWS does; malformed JSON and values of the
// wrong type are a SerializationException.
func decode(body []byte, v any) error {
	if len(body) == 0 {
		return nil
	}
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return kmsapi.Errorf(kmsapi.SerializationException, "%s", typeMismatch(typeErr))
	}
	return kmsapi.Errorf(kmsapi.SerializationException, "")
}

// typeMismatch words a type error the way AWS's front end does, for example
// "STRING_VALUE cannot be converted to Integer".
func typeMismatch(e *json.UnmarshalTypeError) string {
	var got string
	switch e.Value {
	case "string":
		got = "STRING_VALUE"
	case "bool":
		got = "TRUE_VALUE"
	case "array":
		return "Unrecognized collection type class java.lang.String"
	case "object":
		return "Start of structure or map found where not expected"
	default:
		if strings.HasPrefix(e.Value, "number") {
			got = "NUMBER_VALUE"
		} else {
			got = "Value"
		}
	}
	want := "String"
	if e.Type != nil {
		t := e.Type
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Int32:
			want = "Integer"
		case reflect.Int64:
			want = "Long"
		case reflect.Bool:
			want = "Boolean"
		case reflect.Slice, reflect.Map, reflect.Struct:
			if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
				want = "Blob"
			} else {
				return "Start of structure or map found where not expected"
			}
		}
	}
	return got + " cannot be converted to " + want
}
