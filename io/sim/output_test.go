package sim

import (
	"encoding/json"
	"testing"
)

func TestBounds(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name   string
		node   schemaNode
		lo, hi int64
	}{
		{"None", schemaNode{}, 0, 9},
		{"Min", schemaNode{Minimum: f(100)}, 100, 109},
		{"MinMax", schemaNode{Minimum: f(1), Maximum: f(5)}, 1, 5},
		{"Exclusive", schemaNode{ExclusiveMinimum: f(0), ExclusiveMaximum: f(3)}, 1, 2},
		{"FractionalMax", schemaNode{Maximum: f(0.5)}, 0, 0},
		{"MaxOnly", schemaNode{Maximum: f(100)}, 0, 9},
		{"NegativeMax", schemaNode{Maximum: f(-5)}, -14, -5},
		{"Empty", schemaNode{Minimum: f(2.5), Maximum: f(2.7)}, 3, 3},
		{"Wide", schemaNode{Minimum: f(-1000), Maximum: f(1000)}, -1000, -991},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if lo, hi := bounds(tt.node); lo != tt.lo || hi != tt.hi {
				t.Errorf("bounds() = %d, %d, want %d, %d", lo, hi, tt.lo, tt.hi)
			}
		})
	}
}

func TestOutputText_SchemaIsValid(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		want   string // exact output, seed 0
	}{
		{"KeyOrderKept", `{"type":"object","properties":{"z":{"const":1},"a":{"const":"x"},"m":{"type":"null"}}}`, `{"z":1,"a":"x","m":null}`},
		{"RecursiveRef", `{"type":"object","properties":{"next":{"$ref":"#"}}}`, ""},
		{"BooleanSchema", `true`, ""},
		{"EmptyArray", `{"type":"array","maxItems":0}`, `[]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &request{Input: json.RawMessage(`"x"`), format: textFormat{Type: "json_schema", Schema: json.RawMessage(tt.schema)}}
			got := outputText(0, req.prompt())
			if !json.Valid([]byte(got)) {
				t.Fatalf("outputText() = %s, not JSON", got)
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("outputText() = %s, want %s", got, tt.want)
			}
		})
	}
}
