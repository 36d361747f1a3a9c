package rows

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

var scanCorpus = []string{
	`{"id":"r1","text":"row 1: the parcel arrived"}`,
	`  {"a":1.50,"b":-0,"c":1e3,"d":true,"e":false,"f":null,"g":[],"h":{},"i":[1,"x",[null],{"k":2}]}  `,
	`{"a":"x","a":"y"}`,
	`{"a":{"b":1},"a":{"c":2}}`,
	`{"A":1,"a":2}`,
	`{"s":"esc \" \\ \/ \b\f\n\r\t \u00e9 \ud83d\ude00 \ud800"}`,
	`{"s":"bad ` + "\xff\xfe" + ` utf8"}`,
	`{"k` + "\xff" + `":1}`,
	`{"k\u0041":1}`,
	`{"é":"ünïcode ✓"}`,
	"{\"a\":\t1 ,\r\n\"b\" : [ 1 , 2 ] }",
	`{"big":123456789012345678901234567890}`,
	`null`,
	`[1]`,
	`"x"`,
	`{"a":1} {"b":2}`,
	`{"a":1`,
	`{"a":01}`,
	``,
}

// TestScanObjectMatchesDecoder: what the fast path reads, it reads as
// encoding/json with UseNumber does.
func TestScanObjectMatchesDecoder(t *testing.T) {
	fast := 0
	for _, line := range scanCorpus {
		if checkScanObject(t, []byte(line)) {
			fast++
		}
	}
	if fast < 8 {
		t.Errorf("the fast path read %d lines of %d", fast, len(scanCorpus))
	}
	if _, ok := scanObject([]byte(scanCorpus[0]), nil); !ok {
		t.Error("an ordinary row fell back to encoding/json")
	}
}

func checkScanObject(t *testing.T, b []byte) bool {
	t.Helper()
	got, ok := scanObject(b, &keyCache{})
	if !ok {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var want map[string]any
	if err := dec.Decode(&want); err != nil {
		t.Fatalf("%q: fast path read a line encoding/json refuses (%v)", b, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\nfast %#v\njson %#v", b, got, want)
	}
	return true
}

func FuzzScanObject(f *testing.F) {
	for _, line := range scanCorpus {
		f.Add([]byte(line))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkScanObject(t, b) })
}
