package results

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/prices"
)

const typedSchema = `{"type":"object","properties":{
  "label":{"type":"string","enum":["positive","negative","neutral"]},
  "confidence":{"type":"number"},
  "stars":{"type":"integer"},
  "spam":{"type":"boolean"},
  "tags":{"type":"array","items":{"type":"string"}},
  "aspects":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string"},"score":{"type":"number"}},"required":["name","score"]}},
  "author":{"type":"object","properties":{"name":{"type":["string","null"]},"age":{"type":"integer"}},"required":["name","age"]},
  "note":{"anyOf":[{"type":"string"},{"type":"null"}]},
  "extra":{"anyOf":[{"type":"string"},{"type":"number"}]},
  "key":{"type":"string"}},
 "required":["label","confidence","stars","spam","tags","aspects","author","note","extra","key"]}`

func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func typedRecords() []*Record {
	return []*Record{
		{CustomID: "a", Index: 0, Model: "gpt-5-mini", Usage: usageOf(100, 20), Input: map[string]any{"gold": "positive", "n": json.Number("3")},
			OutputText: `{"label":"positive","confidence":0.9,"stars":5,"spam":false,"tags":["x","y"],"aspects":[{"name":"food","score":0.5}],"author":{"name":"Ann","age":41},"note":null,"extra":7,"key":"k1"}`},
		{CustomID: "b", Index: 1, Model: "gpt-5-mini", Usage: usageOf(100, 20), Input: map[string]any{"gold": "negative"},
			OutputText: `{"label":"negative","confidence":"high","stars":2.0,"spam":true,"tags":[],"aspects":[],"author":{"name":null,"age":3},"note":"hm","extra":"x","key":"k2"}`,
			Error:      &Error{Code: "schema_invalid", Message: "…"}},
		{CustomID: "c", Index: 2, Model: "gpt-5-mini", OutputText: "not json", Error: &Error{Code: "refused"}},
	}
}

func TestTypedExport_ParquetTypes(t *testing.T) {
	var buf bytes.Buffer
	e, err := NewTypedExporter(&buf, FormatParquet, decodeJSON(t, typedSchema), []string{"gold", "n"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range typedRecords() {
		if err := e.Write(r, prices.Default()); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var order []string
	for _, fl := range f.Schema().Fields() {
		order = append(order, fl.Name())
		got[fl.Name()] = nodeType(fl)
	}
	want := map[string]string{
		"key": "STRING", "index": "INT64", "status": "STRING", "cost_usd": "DECIMAL", "error_code": "STRING",
		"gold": "STRING", "n": "STRING",
		"label": "STRING", "confidence": "DOUBLE", "stars": "INT64", "spam": "BOOLEAN",
		"tags": "LIST<STRING>", "aspects": "LIST<{name:STRING,score:DOUBLE}>", "author": "{name:STRING,age:INT64}",
		"note": "STRING", "extra": "STRING", "output_key": "STRING",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("column %s: %s, want %s", k, got[k], w)
		}
	}
	if len(got) != len(want) || strings.Join(order[:8], ",") != "key,index,status,cost_usd,error_code,gold,n,label" {
		t.Errorf("columns %v", order)
	}
	// Values, read back generically.
	rows := parquet.NewReader(bytes.NewReader(buf.Bytes()))
	var vals []map[string]any
	for {
		m := map[string]any{}
		if err := rows.Read(&m); err != nil {
			break
		}
		vals = append(vals, m)
	}
	if len(vals) != 3 {
		t.Fatalf("%d rows read back", len(vals))
	}
	a, b, c := vals[0], vals[1], vals[2]
	if a["label"] != "positive" || a["confidence"] != 0.9 || a["stars"] != int64(5) || a["spam"] != false || a["n"] != "3" || a["output_key"] != "k1" || a["extra"] != "7" {
		t.Errorf("row a = %v", a)
	}
	if b["confidence"] != nil || b["stars"] != int64(2) || b["status"] != "failed" || b["error_code"] != "schema_invalid" || b["extra"] != `"x"` {
		t.Errorf("row b = %v", b)
	}
	if c["label"] != nil || c["status"] != "failed" {
		t.Errorf("row c = %v", c)
	}
}

// nodeType describes a column's type: its logical type where it has one.
func nodeType(n parquet.Node) string {
	if n.Leaf() {
		lt := n.Type().LogicalType()
		switch {
		case lt != nil && lt.String() == "STRING":
			return "STRING"
		case lt != nil && strings.HasPrefix(lt.String(), "DECIMAL"):
			return "DECIMAL"
		}
		return n.Type().Kind().String()
	}
	if lt := n.Type().LogicalType(); lt != nil && lt.String() == "LIST" {
		elem := n.Fields()[0].Fields()[0]
		return "LIST<" + nodeType(elem) + ">"
	}
	var parts []string
	for _, f := range n.Fields() {
		parts = append(parts, f.Name()+":"+nodeType(f))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func TestTypedExport_CSV(t *testing.T) {
	var buf bytes.Buffer
	e, err := NewTypedExporter(&buf, FormatCSV, decodeJSON(t, typedSchema), []string{"gold"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range typedRecords()[:1] {
		if err := e.Write(r, prices.Default()); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("csv %v %v", recs, err)
	}
	row := map[string]string{}
	for i, h := range recs[0] {
		row[h] = recs[1][i]
	}
	if row["label"] != "positive" || row["confidence"] != "0.9" || row["tags"] != `["x","y"]` || row["author"] != `{"name":"Ann","age":41}` ||
		row["aspects"] != `[{"name":"food","score":0.5}]` || row["note"] != "" || row["gold"] != "positive" || row["cost_usd"] == "" {
		t.Errorf("csv row %v", row)
	}
}

func usageOf(in, out int64) api.Usage {
	return api.Usage{InputTokens: in, OutputTokens: out, TotalTokens: in + out}
}
