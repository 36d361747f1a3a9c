package results

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// readAllScan is ReadAll as it was before its first pass read keys from
// the lines' start: a whole Scan for the first pass. TestReadAll_SameAsScanFirstPass
// checks ReadAll against it.
func readAllScan(paths []string, want Fields, fn func(rec *Record, latest bool) error) (ReadInfo, error) {
	var info ReadInfo
	seed := maphash.MakeSeed()
	latest := make(map[uint64]uint64)
	lines := make([]int64, len(paths))
	for i, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return info, fmt.Errorf("open journal: %w", err)
		}
		var n int64
		si, err := Scan(p, func(rec *Record) {
			n++
			latest[maphash.String(seed, rec.CustomID)] = uint64(i)<<48 | uint64(n)
		})
		if err != nil {
			return info, err
		}
		lines[i] = si.Lines
		info.Lines += si.Lines
		if si.TornBytes > 0 {
			info.Torn = append(info.Torn, fmt.Sprintf("%s: %d bytes", p, si.TornBytes))
		}
	}
	info.Keys = int64(len(latest))
	for i, p := range paths {
		ls := lineScanner{want: want&fieldMask | fieldMeta}
		err := readLines(p, lines[i], func(n int64, line []byte) error {
			rec := new(Record)
			if ls.decode(line, rec) != nil {
				*rec = Record{}
				if err := decodeRead(line, rec, want); err != nil {
					return &CorruptError{Path: p, Line: n, Err: err}
				}
			}
			return fn(rec, latest[maphash.String(seed, rec.CustomID)] == uint64(i)<<48|uint64(n))
		})
		if err != nil {
			return info, err
		}
	}
	return info, nil
}

// TestReadAll_SameAsScanFirstPass reads journals whose lines a quick first
// pass could misread (a later member encoding/json takes as custom_id, in
// any spelling; bad lines the first pass does not decode; torn and bad
// last lines; an error from fn before a bad line) and checks that ReadAll
// gives the records, latest flags, info and error that a first pass
// decoding every line gives.
func TestReadAll_SameAsScanFirstPass(t *testing.T) {
	good := func(key string, i int) string {
		return fmt.Sprintf(`{"custom_id":%q,"index":%d,"response":{"status_code":200,"request_id":"req_%d","body":{"id":"resp","object":"response","status":"completed"}},"error":null,"output_text":"x","usage":{"input_tokens":1,"output_tokens":2},"model":"m","attempts":1,"latency_ms":3,"input":{"text":"t"}}`, key, i, i)
	}
	cases := map[string][][]string{
		"plain":      {{good("a", 0), good("b", 1), good("a", 2)}, {good("b", 3), good("c", 4)}},
		"renamed":    {{good("a", 0), `{"custom_id":"b","index":1,"cuſtom_id":"a"}`, good("b", 2), `{"custom_id":"c","x":{"y":1},"CUSTOM_ID":"b"}`}},
		"escaped":    {{good("a", 0), `{"custom_id":"z","custom\u005fi\u0064":"a"}`, good("z", 2), `{"custom_id":"y","input":{"custom_id":"q"},"Custom_Id":"z"}`}},
		"null":       {{good("a", 0), `{"custom_id":"b","custom_id":null}`, good("a", 2)}},
		"badMiddle":  {{good("a", 0), `{"custom_id":"b",nope}`, good("a", 2)}},
		"badTwice":   {{good("a", 0), `{"custom_id":"b","time":"not a time"}`, good("b", 2), `{"custom_id":"c",nope}`, good("a", 4)}},
		"badDecoded": {{good("a", 0), `{"custom_id":"b",nope}`, `nope`, good("a", 3)}},
		"badFile2":   {{good("a", 0), `{"custom_id":"b","time":"not a time"}`}, {good("a", 2), `{"custom_id":"b",nope}`, good("c", 4)}},
		"badLast":    {{good("a", 0), good("b", 1), `{"custom_id":"a",nope}`}},
		"badLast2":   {{good("a", 0), good("b", 1), `{"custom_id":"a","cuſtom_id":"b",}`}},
		"goodLast":   {{good("a", 0), good("b", 1), `{"custom_id":"b","Custom_ID":"a"}`}},
		"escapedKey": {{`{"custom_id":"\u0061","index":0}`, good("a", 1), `{"custom_id":"a\"","index":2}`, good("a\"", 3)}},
	}
	var many []string
	for i := range 1500 {
		many = append(many, good(fmt.Sprint(i%700), i))
	}
	cases["many"] = [][]string{many, append(many[:1000:1000], `{"custom_id":"x",nope}`, good("y", 1))}
	dir := t.TempDir()
	for name, files := range cases {
		for _, tornTail := range []string{"", `{"custom_id":"a","ind`} {
			var paths []string
			for i, lines := range files {
				text := strings.Join(lines, "\n") + "\n"
				if i == len(files)-1 {
					text += tornTail
				}
				paths = append(paths, writeJournal(t, dir, fmt.Sprintf("%s-%d-%d.jsonl", name, len(tornTail), i), text))
			}
			for _, failAt := range []int{-1, 1, 600, 2000} {
				type seen struct {
					Key    string
					Index  int64
					Latest bool
				}
				read := func(readAll func([]string, Fields, func(*Record, bool) error) (ReadInfo, error)) ([]seen, ReadInfo, string) {
					var got []seen
					info, err := readAll(paths, ExportFields, func(rec *Record, latest bool) error {
						if len(got) == failAt {
							return errors.New("fn failed")
						}
						got = append(got, seen{rec.CustomID, rec.Index, latest})
						return nil
					})
					msg := "<nil>"
					if err != nil {
						msg = err.Error()
					}
					return got, info, msg
				}
				want, wantInfo, wantErr := read(readAllScan)
				got, gotInfo, gotErr := read(ReadAll)
				if gotErr != wantErr || !reflect.DeepEqual(gotInfo, wantInfo) {
					t.Errorf("%s (torn %q, fn fails at %d): ReadAll returned %+v, %s; a Scan first pass %+v, %s", name, tornTail, failAt, gotInfo, gotErr, wantInfo, wantErr)
				}
				if wantErr == "<nil>" && !reflect.DeepEqual(got, want) {
					t.Errorf("%s (torn %q): ReadAll read\n%+v\na Scan first pass\n%+v", name, tornTail, got, want)
				}
			}
		}
	}
}

func writeJournal(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMayNameCustomID_EveryOffset puts names encoding/json matches to
// custom_id at every offset of the eight-byte words mayNameCustomID reads,
// and checks it finds each, and none of the usual names.
func TestMayNameCustomID_EveryOffset(t *testing.T) {
	names := []string{`"custom_id"`, `"CUSTOM_ID"`, `"Custom_Id"`, `"cuſtom_id"`, `"custom_i\u0064"`, `"custom_i\u0044"`, `"\u0063\u0075\u0073\u0074\u006f\u006d\u005f\u0069\u0064"`}
	for pad := range 24 {
		for _, name := range names {
			b := []byte("," + strings.Repeat(`"`, pad%2) + strings.Repeat("x", pad) + `",` + name + `:"k"}`)
			if !mayNameCustomID(b) {
				t.Errorf("mayNameCustomID(%s) = false", b)
			}
		}
		for _, name := range []string{`"request_id"`, `"id"`, `"completed"`, `"custom_idd"`, `"xcustom_id"`, `"status":"4"`} {
			b := []byte("," + strings.Repeat("x", pad) + `":1,` + name + `:"d"}`)
			if mayNameCustomID(b) {
				t.Errorf("mayNameCustomID(%s) = true", b)
			}
		}
	}
}

// TestMayNameCustomIDIsByteLoop checks the word-at-a-time scan against
// candidateAt at every byte, over random lines of the bytes that matter.
func TestMayNameCustomIDIsByteLoop(t *testing.T) {
	const alphabet = `"dD4\custom_idCUSTOM_IDx:,{}u0`
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		b := make([]byte, 1+r.IntN(40))
		for k := range b {
			b[k] = alphabet[r.IntN(len(alphabet))]
		}
		if r.IntN(4) == 0 { // now and then, a name that matches
			name := []string{`"custom_id"`, `"CUSTOM_ID"`, `"custom_i\u0064"`, `"custom_i\u0044"`}[r.IntN(4)]
			at := r.IntN(len(b))
			b = append(b[:at], append([]byte(name), b[at:]...)...)
		}
		want := false
		for i := 1; i < len(b); i++ {
			if candidateAt(b, i) {
				want = true
				break
			}
		}
		if got := mayNameCustomID(b); got != want {
			t.Fatalf("mayNameCustomID(%q) = %v, candidateAt at some byte: %v", b, got, want)
		}
	}
}

func BenchmarkMayNameCustomID(b *testing.B) {
	line := benchLine()
	b.SetBytes(int64(len(line)))
	for range b.N {
		if mayNameCustomID(line) {
			b.Fatal("found custom_id")
		}
	}
}

// benchLine is a journal line after its key, as a Journal writes it.
func benchLine() []byte {
	return []byte(`,"index":7,"response":{"status_code":200,"request_id":"req_0000000000000007","body":{"id":"resp_0000000000000007","object":"response","created_at":1763650000,"status":"completed","error":null,"model":"gpt-5-mini-2025-08-07","output":[{"id":"rs_000000000000001d","type":"reasoning","summary":[]},{"id":"msg_0000000000000034","type":"message","status":"completed","content":[{"type":"output_text","annotations":[],"logprobs":[],"text":"` + strings.Repeat("The customer liked the product but found delivery slow. ", 6) + `"}],"role":"assistant"}],"truncation":"disabled","usage":{"input_tokens":47}}},"output_text":"` + strings.Repeat("The customer liked the product but found delivery slow. ", 6) + `","usage":{"input_tokens":47},"model":"gpt-5-mini-2025-08-07","attempts":2,"latency_ms":307,"request_sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}`)
}
