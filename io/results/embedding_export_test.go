package results_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/llmbatch/llmbatch/io/embeddings"
	"github.com/llmbatch/llmbatch/io/results"
)

// embeddingJournal writes a journal of an embeddings job as llmbatch
// writes it (rows' shares of packed answers, base64 vectors), plus the
// odd shapes: a body whose vector is an array of numbers (a server that
// ignored encoding_format), one with an escaped "object" key, a Responses
// answer and a failed row (no vector). It returns the path and each key's
// vector (nil: none).
func embeddingJournal(t *testing.T) (string, map[string][]float32) {
	t.Helper()
	vec := func(seed, n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(math.Sin(float64(seed*1000+i))) / 3
		}
		return v
	}
	b64 := func(v []float32) string {
		buf := make([]byte, 4*len(v))
		for i, f := range v {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(f))
		}
		return base64.StdEncoding.EncodeToString(buf)
	}
	// One packed answer of three inputs, items out of order, as OpenAI sends it.
	want := map[string][]float32{"e0": vec(0, 256), "e1": vec(1, 256), "e2": vec(2, 256)}
	answer := fmt.Sprintf(`{"object":"list","data":[{"object":"embedding","index":2,"embedding":%q},{"object":"embedding","index":0,"embedding":%q},{"object":"embedding","index":1,"embedding":%q}],"model":"text-embedding-3-small","usage":{"prompt_tokens":30,"total_tokens":30}}`,
		b64(want["e2"]), b64(want["e0"]), b64(want["e1"]))
	rs, err := embeddings.API{}.Unpack([]byte(answer), []int64{10, 10, 10})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	add := func(rec *results.Record) {
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	for i, r := range rs {
		key := fmt.Sprintf("e%d", i)
		add(&results.Record{CustomID: key, Index: int64(i), Response: &results.Response{StatusCode: 200, Body: r.Body},
			Usage: r.Usage, Model: r.Model, Attempts: 1, LatencyMS: 20})
	}
	want["arr"] = []float32{0.25, -1.5, 3e-5, 1}
	add(&results.Record{CustomID: "arr", Index: 3, Response: &results.Response{StatusCode: 200,
		Body: json.RawMessage(`{ "data" : [ {"index":0,"object":"embedding","embedding":[0.25,-1.5,3e-5,1]} ], "object" : "list", "model":"m"}`)},
		Model: "m", Attempts: 1})
	want["esc"] = []float32{0.5}
	add(&results.Record{CustomID: "esc", Index: 4, Response: &results.Response{StatusCode: 200,
		Body: json.RawMessage(`{"\u006fbject":"list","data":[{"embedding":"AAAAPw=="}]}`)}, Attempts: 1})
	want["resp"] = nil
	add(&results.Record{CustomID: "resp", Index: 5, Response: &results.Response{StatusCode: 200,
		Body: json.RawMessage(`{"id":"resp_1","object":"response","status":"completed","output":[]}`)}, OutputText: "hi", Attempts: 1})
	want["fail"] = nil
	add(&results.Record{CustomID: "fail", Index: 6, Error: &results.Error{Code: "invalid_request_error", Message: "too long", StatusCode: 400}, Attempts: 1})
	path := filepath.Join(t.TempDir(), "emb.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, want
}

func TestExport_EmbeddingParquet(t *testing.T) {
	path, want := embeddingJournal(t)
	data := exportFile(t, path, results.FormatParquet)
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("schema:\n%s", f.Schema())
	col, ok := f.Schema().Lookup("embedding", "list", "element")
	if !ok {
		t.Fatalf("no embedding.list.element column in\n%s", f.Schema())
	}
	if k := col.Node.Type().Kind(); k != parquet.Float {
		t.Errorf("element type = %v, want FLOAT", k)
	}
	// What a reader sees: the file's own schema elements.
	var el *format.SchemaElement
	for i := range f.Metadata().Schema {
		if f.Metadata().Schema[i].Name == "embedding" {
			el = &f.Metadata().Schema[i]
		}
	}
	if el == nil {
		t.Fatalf("no embedding column with a logical type in\n%s", f.Schema())
	}
	if _, ok := el.LogicalType.Value.(*format.ListType); !ok || el.RepetitionType != thrift.New(format.Optional) {
		t.Errorf("embedding: logical type %v, repetition %v; want an optional LIST\n%s", el.LogicalType, el.RepetitionType, f.Schema())
	}
	rows, err := parquet.Read[results.ExportRow](bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for _, r := range rows {
		if !slices.Equal(r.Embedding, want[r.Key]) || (r.Embedding == nil) != (want[r.Key] == nil) {
			t.Errorf("row %s: embedding %v, want %v", r.Key, head(r.Embedding), head(want[r.Key]))
		}
	}
}

func TestExport_EmbeddingCSV(t *testing.T) {
	path, want := embeddingJournal(t)
	recs, err := csv.NewReader(bytes.NewReader(exportFile(t, path, results.FormatCSV))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := slices.Index(recs[0], "embedding")
	if col < 0 {
		t.Fatalf("no embedding column in %v", recs[0])
	}
	for _, r := range recs[1:] {
		w := want[r[0]]
		if w == nil {
			if r[col] != "" {
				t.Errorf("row %s: embedding %q, want empty", r[0], r[col])
			}
			continue
		}
		var got []float32
		if err := json.Unmarshal([]byte(r[col]), &got); err != nil || !slices.Equal(got, w) {
			t.Errorf("row %s: embedding %.60q (%v), want %v", r[0], r[col], err, head(w))
		}
	}
}

func head(v []float32) []float32 { return v[:min(len(v), 4)] }
