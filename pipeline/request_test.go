package pipeline

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/io/chat"
	"github.com/llmbatch/llmbatch/io/embeddings"

	"github.com/llmbatch/llmbatch/io/rows"
)

func mustRow(tb testing.TB, index int64, js string) rows.Row {
	tb.Helper()
	f, err := rows.DecodeObject([]byte(js))
	if err != nil {
		tb.Fatal(err)
	}
	return rows.Row{Index: index, Line: index + 1, Fields: f}
}

func TestBuilder_Build(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		row     string
		key     string
		body    string // the request as sent
		wantErr string
	}{
		{name: "DefaultColumn", cfg: Config{Template: Template{Model: "m"}}, row: `{"text":"hi","n":1}`, key: "0",
			body: `{"input":"hi","model":"m"}`},
		{name: "PromptColumnNumber", cfg: Config{Template: Template{Model: "m", PromptColumn: "n"}}, row: `{"text":"hi","n":1.50}`, key: "0",
			body: `{"input":"1.50","model":"m"}`},
		{name: "TemplateHelpers", cfg: Config{Template: Template{Model: "m", Prompt: `{{trim .t}}|{{truncate 3 .t}}|{{json .o}}`, IDColumn: "id"}},
			row: `{"id":7,"t":"  héllo  ","o":{"a":[1,2]}}`, key: "7", body: `{"input":"héllo|  h|{\"a\":[1,2]}","model":"m"}`},
		{name: "BodyMergedNoEscaping", cfg: Config{Template: Template{Model: "m", Body: []byte(`{"temperature":0.2,"model":"from-body","text":{"format":{"type":"json_object"}}}`), Instructions: "Be <brief> & {{.x}}"}},
			row: `{"input":"q","x":"kind"}`, key: "0",
			body: `{"input":"q","instructions":"Be <brief> & kind","model":"from-body","temperature":0.2,"text":{"format":{"type":"json_object"}}}`},
		{name: "BatchLine", cfg: Config{Template: Template{Model: "fallback"}},
			row: `{"custom_id":"c-1","method":"POST","url":"/v1/responses","body":{"input":"x","max_output_tokens":100}}`, key: "c-1",
			body: `{"input":"x","max_output_tokens":100,"model":"fallback"}`},
		{name: "BatchLineOtherURL", cfg: Config{Template: Template{Model: "m", API: chat.API{}}}, row: `{"custom_id":"c","url":"/v1/embeddings","body":{"input":"x"}}`,
			wantErr: `does not match the job's endpoint chat`},
		{name: "BatchLineUnknownURL", cfg: Config{Template: Template{Model: "m"}}, row: `{"custom_id":"c","url":"/v1/images","body":{"input":"x"}}`,
			wantErr: `names no endpoint llmbatch knows`},
		{name: "BatchLineChoosesAPI", cfg: Config{Template: Template{Model: "m"}}, row: `{"custom_id":"c","url":"/v1/embeddings","body":{"input":"x"}}`,
			key: "c", body: `{"input":"x","model":"m"}`},
		{name: "ChatPrompt", cfg: Config{Template: Template{Model: "m", API: chat.API{}, Instructions: "sys"}}, row: `{"text":"x"}`, key: "0",
			body: `{"messages":[{"content":"sys","role":"system"},{"content":"x","role":"user"}],"model":"m"}`},
		{name: "EmbeddingsPrompt", cfg: Config{Template: Template{Model: "m", API: embeddings.API{}}}, row: `{"text":"x"}`, key: "0",
			body: `{"encoding_format":"base64","input":"x","model":"m"}`},
		{name: "MissingIDColumn", cfg: Config{Template: Template{Model: "m", IDColumn: "id"}}, row: `{"text":"x"}`, wantErr: `no value in id column "id"`},
		{name: "NoModel", cfg: Config{}, row: `{"text":"x"}`, wantErr: "no model"},
		{name: "NoInputColumn", cfg: Config{Source: Source{Input: "f.jsonl"}, Template: Template{Model: "m"}}, row: `{"b":1,"a":2}`, wantErr: "f.jsonl: no input column: the row has none of prompt, input, text (columns found: a, b)"},
		{name: "MissingTemplateColumn", cfg: Config{Template: Template{Model: "m", Prompt: "{{.nope}}"}}, row: `{"text":"x"}`, wantErr: `prompt template: missing column "nope"`},
		{name: "NullCell", cfg: Config{Template: Template{Model: "m", Prompt: "[{{.a}}]"}}, row: `{"a":null}`, key: "0", body: `{"input":"[]","model":"m"}`},
		{name: "ModelColumn", cfg: Config{Template: Template{Model: "m", ModelColumn: "mc"}}, row: `{"text":"x","mc":"gpt-5"}`, key: "0", body: `{"input":"x","model":"gpt-5"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := newBuilder(&tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			row := mustRow(t, 0, tt.row)
			req, err := b.build(&row)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("build() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("build() error = %v", err)
			}
			if req.key != tt.key || string(req.body) != tt.body {
				t.Errorf("build() = key %q body %s; want key %q body %s", req.key, req.body, tt.key, tt.body)
			}
			if len(req.sha) != 64 {
				t.Errorf("sha = %q", req.sha)
			}
		})
	}
}

func TestBuilder_NoInputColumnOnFirstRowStopsJob(t *testing.T) {
	b, _ := newBuilder(&Config{Template: Template{Model: "m"}})
	row := mustRow(t, 0, `{"q":1}`)
	_, err := b.build(&row)
	var uerr *UsageError
	if !errors.As(err, &uerr) {
		t.Errorf("build() on row 0 = %v, want a UsageError", err)
	}
	row = mustRow(t, 5, `{"q":1}`)
	if _, err := b.build(&row); errors.As(err, &uerr) || err == nil {
		t.Errorf("build() on row 5 = %v, want a row error", err)
	}
}

func TestBuilder_Columns(t *testing.T) {
	tests := []struct {
		cfg  Config
		want []string // nil: no projection
	}{
		{Config{Template: Template{Prompt: "{{.a}} {{.b | trim}} {{if .c}}{{$.d}}{{end}}", IDColumn: "id", KeepColumns: []string{"k", "a"}}}, []string{"a", "b", "c", "d", "id", "k"}},
		{Config{Template: Template{PromptColumn: "p", ModelColumn: "m"}}, []string{"p", "m"}},
		{Config{Template: Template{Prompt: "{{json .}}"}}, nil},
		{Config{Template: Template{Prompt: "{{range .xs}}{{.}}{{end}}"}}, nil},
		{Config{Template: Template{Prompt: "{{with .a}}{{.b}}{{end}}"}}, nil},
		{Config{}, nil},
	}
	for _, tt := range tests {
		b, err := newBuilder(&tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := b.columns()
		slices.Sort(got)
		want := slices.Clone(tt.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("columns(%q) = %v, want %v", tt.cfg.Prompt, got, want)
		}
	}
}

func TestKeySet(t *testing.T) {
	var s keySet
	for i := uint64(0); i < 5000; i++ {
		if s.add(i * 0x9e3779b97f4a7c15) {
			t.Fatalf("add(%d) reported a duplicate", i)
		}
	}
	for i := uint64(0); i < 5000; i++ {
		if !s.add(i * 0x9e3779b97f4a7c15) {
			t.Fatalf("second add(%d) did not report a duplicate", i)
		}
	}
	if s.n != 5000 || len(s.slots) != 8192 {
		t.Errorf("n = %d, slots = %d; want 5000 in 8192", s.n, len(s.slots))
	}
}

// FuzzRender: any template and any row either build a request whose body
// is valid JSON, or give an error; never a panic.
func FuzzRender(f *testing.F) {
	f.Add("Label: {{.text}}", `{"text":"hi"}`)
	f.Add("{{json .}} {{truncate 2 .a}}", `{"a":"héllo","b":[1,{"c":null}]}`)
	f.Add("{{trim .a}}{{.b.c}}", `{"a":1e400,"b":{"c":"\u0000"}}`)
	f.Add("{{truncate -1 .a}}", `{"a":"x"}`)
	f.Fuzz(func(t *testing.T, tmpl, row string) {
		if strings.Contains(tmpl, "range") {
			return // {{range 1e9}} is a user's own slow template, not a bug
		}
		b, err := newBuilder(&Config{Source: Source{Input: "fuzz.jsonl"}, Template: Template{Model: "m", Prompt: tmpl}})
		if err != nil {
			return
		}
		fields, err := rows.DecodeObject([]byte(row))
		if err != nil {
			return
		}
		r := rows.Row{Fields: fields}
		req, err := b.build(&r)
		if err != nil {
			return
		}
		if !json.Valid(req.body) {
			t.Fatalf("invalid body %q", req.body)
		}
		b.columns()
	})
}
