package audit

import (
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// Parameters encodes a request or response shape as CloudTrail records it
// in requestParameters, responseElements or additionalEventData: the
// members that are set, named as Java beans name them (the first letter
// lowered, "KeyId" becomes "keyId", unless the first two are capitals:
// "AWSAccountId" stays), timestamps as CloudTrail writes them (TimeLayout,
// UTC). Map keys such as encryption context keys are user data and stay as
// they are; maps are written in key order. Blobs are left out at any depth.
// A shape with nothing set is nil (null). Pass only redacted requests and
// the members of responses CloudTrail records: Parameters does not know
// what else is secret.
func Parameters(v any) jsontext.Value {
	if v == nil {
		return nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && rv.IsNil() {
		return nil
	}
	b := appendValue(nil, rv)
	if string(b) == "{}" {
		return nil
	}
	return b
}

// TimeLayout is how CloudTrail writes the timestamps of requestParameters
// and responseElements (its KMS examples: "May 21, 2025, 5:47:45 AM"),
// always in UTC.
const TimeLayout = "Jan 2, 2006, 3:04:05 PM"

// timestamp is what a time value offers: time.Time, and kmsapi.Time which
// embeds it.
type timestamp interface{ UTC() time.Time }

var timestampType = reflect.TypeFor[timestamp]()

type jsonMarshaler interface{ MarshalJSON() ([]byte, error) }

var jsonMarshalerType = reflect.TypeFor[jsonMarshaler]()

func appendValue(b []byte, v reflect.Value) []byte {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return append(b, "null"...)
		}
		v = v.Elem()
	}
	if v.Type().Implements(timestampType) {
		return appendString(b, v.Interface().(timestamp).UTC().Format(TimeLayout))
	}
	if v.Type().Implements(jsonMarshalerType) {
		if out, err := v.Interface().(jsonMarshaler).MarshalJSON(); err == nil {
			return append(b, out...)
		}
		return append(b, "null"...)
	}
	switch v.Kind() {
	case reflect.Struct:
		b = append(b, '{')
		t := v.Type()
		n := 0
		for i := 0; i < t.NumField(); i++ {
			f := v.Field(i)
			if !t.Field(i).IsExported() || f.IsZero() || isBlob(f.Type()) {
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = appendCamelCaseName(b, t.Field(i).Name)
			b = appendValue(b, f)
		}
		return append(b, '}')
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(x, y reflect.Value) int {
			switch {
			case x.String() < y.String():
				return -1
			case x.String() > y.String():
				return 1
			}
			return 0
		})
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k.String())
			b = append(b, ':')
			b = appendValue(b, v.MapIndex(k))
		}
		return append(b, '}')
	case reflect.Slice, reflect.Array:
		if isBlob(v.Type()) {
			return append(b, "null"...) // never logged
		}
		b = append(b, '[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, v.Index(i))
		}
		return append(b, ']')
	case reflect.String:
		return appendString(b, v.String())
	case reflect.Bool:
		return strconv.AppendBool(b, v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(b, v.Int(), 10)
	}
	return append(b, "null"...)
}

// appendCamelCaseName appends `"name":` for a Go field name as
// java.beans.Introspector.decapitalize makes a property name of it: the
// first letter lowered ("KeyId" becomes "keyId"), unless the first two are
// both capitals ("AWSAccountId" stays), as in CloudTrail's records of KMS.
// Field names are ASCII.
func appendCamelCaseName(b []byte, name string) []byte {
	b = append(b, '"')
	if c := name[0]; 'A' <= c && c <= 'Z' && !(len(name) > 1 && 'A' <= name[1] && name[1] <= 'Z') {
		b = append(b, c+('a'-'A'))
		name = name[1:]
	}
	b = append(b, name...)
	return append(b, '"', ':')
}

func isBlob(t reflect.Type) bool {
	return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8
}
