package jsonscan

import (
	"slices"
	"testing"
)

func TestObjectAndArray(t *testing.T) {
	var keys, vals []string
	ok := Object([]byte(` { "a" : "x\\" , "b\"":1}`), func(k, v []byte) bool {
		keys, vals = append(keys, string(k)), append(vals, string(v))
		return true
	})
	if ok { // an escaped key hands the object back
		t.Errorf("escaped key read: %q %q", keys, vals)
	}
	keys, vals = nil, nil
	ok = Object([]byte(`{"a":"x\\\\\"y\\","b":[1,{"c":"]}"}],"d":-1.5e3 ,"e":null}`), func(k, v []byte) bool {
		keys, vals = append(keys, string(k)), append(vals, string(v))
		return true
	})
	if !ok || !slices.Equal(keys, []string{"a", "b", "d", "e"}) ||
		!slices.Equal(vals, []string{`"x\\\\\"y\\"`, `[1,{"c":"]}"}]`, `-1.5e3`, `null`}) {
		t.Errorf("Object = %v %q %q", ok, keys, vals)
	}
	if s, ok := String([]byte(`"x\\\\\"y\\"`)); !ok || s != `x\\"y\` {
		t.Errorf("String = %q %v", s, ok)
	}
	var n int
	if !Array([]byte(`[ ]`), func([]byte) bool { n++; return true }) || n != 0 {
		t.Error("empty array")
	}
	if Object([]byte(`[]`), func(k, v []byte) bool { return true }) || Array([]byte(`{}`), func([]byte) bool { return true }) {
		t.Error("wrong kind read")
	}
}
