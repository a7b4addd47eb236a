package audit

import (
	"reflect"
	"unicode"
	"unicode/utf8"
)

// Parameters turns a request shape into CloudTrail's requestParameters: the
// members that are set, named in camelCase ("KeyId" becomes "keyId"). Map
// keys such as encryption context keys are user data and stay as they are.
// Pass only redacted requests: Parameters does not know what is secret.
func Parameters(req any) any {
	if req == nil {
		return nil
	}
	v := reflect.ValueOf(req)
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return nil
	}
	return parameterValue(v)
}

func parameterValue(v reflect.Value) any {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		// Types with their own JSON form (timestamps) keep it.
		if _, ok := v.Interface().(interface{ MarshalJSON() ([]byte, error) }); ok {
			return v.Interface()
		}
		m := make(map[string]any)
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := v.Field(i)
			if !t.Field(i).IsExported() || f.IsZero() || isBlob(f.Type()) {
				continue
			}
			m[camelCase(t.Field(i).Name)] = parameterValue(f)
		}
		return m
	case reflect.Slice:
		if isBlob(v.Type()) {
			return nil // blobs never go to the audit log
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = parameterValue(v.Index(i))
		}
		return out
	default:
		return v.Interface()
	}
}

func camelCase(name string) string {
	r, size := utf8.DecodeRuneInString(name)
	return string(unicode.ToLower(r)) + name[size:]
}

func isBlob(t reflect.Type) bool {
	return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8
}
