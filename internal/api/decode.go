package api

import (
	"errors"
	"reflect"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// The wire's JSON goes through github.com/go-json-experiment/json, the
// implementation of Go's encoding/json/v2 (an experiment in Go 1.26): it
// matches member names exactly, as AWS does ("keyid" is not "KeyId"), and
// decodes a request several times faster than encoding/json.

// decode reads a request body into v. An empty body is an empty request.
// Unknown members are ignored, as AWS does; malformed JSON, a member given
// twice and values of the wrong type are a SerializationException.
func decode(body []byte, v any) error {
	if len(body) == 0 {
		return nil
	}
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var semErr *json.SemanticError
	if errors.As(err, &semErr) && semErr.GoType != nil && semErr.JSONKind != 0 {
		return kmsapi.Errorf(kmsapi.SerializationException, "%s", typeMismatch(semErr.JSONKind, semErr.GoType))
	}
	return kmsapi.Errorf(kmsapi.SerializationException, "")
}

// typeMismatch words a type error the way AWS's front end does, for example
// "STRING_VALUE cannot be converted to Integer".
func typeMismatch(got jsontext.Kind, want reflect.Type) string {
	for want.Kind() == reflect.Pointer {
		want = want.Elem()
	}
	var value string
	switch got {
	case '"':
		value = "STRING_VALUE"
	case '0':
		value = "NUMBER_VALUE"
	case 't':
		value = "TRUE_VALUE"
	case 'f':
		value = "FALSE_VALUE"
	case 'n':
		value = "NULL_VALUE"
	case '[':
		return "Unrecognized collection type class java.lang.String"
	case '{':
		return "Start of structure or map found where not expected"
	}
	target := "String"
	switch want.Kind() {
	case reflect.Int32:
		target = "Integer"
	case reflect.Int64:
		target = "Long"
	case reflect.Bool:
		target = "Boolean"
	case reflect.Slice:
		if want.Elem().Kind() == reflect.Uint8 {
			target = "Blob"
		} else {
			return "Start of list found where not expected"
		}
	case reflect.Map, reflect.Struct:
		return "Start of structure or map found where not expected"
	}
	return value + " cannot be converted to " + target
}
