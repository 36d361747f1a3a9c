package results_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/results"
)

// writeMixed writes records and marks, interleaved, through one Journal.
func writeMixed(t *testing.T, path string, lines ...any) {
	t.Helper()
	size := int64(0)
	if st, err := os.Stat(path); err == nil {
		size = st.Size()
	}
	j, err := results.OpenJournal(path, size)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		switch v := l.(type) {
		case *results.Record:
			err = j.Add(v)
		case *results.Mark:
			err = j.AddMark(v)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

// Marks are lines of their own kind: every reader of records skips them,
// the resume scan hands them to its mark callback in line order, and a
// mark does not shadow its row's record as the key's latest.
func TestMarks_AreNotRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	at := time.Date(2026, 11, 30, 1, 2, 3, 0, time.UTC)
	writeMixed(t, path,
		&results.Mark{Kind: "response", Key: "a", ID: "resp_1", Time: at},
		ok("a", 10, 1),
		&results.Mark{Kind: "batch", ID: "batch_1", Data: json.RawMessage(`{"keys":["b","c"]}`)},
		ok("b", 20, 2),
		&results.Mark{Kind: "response", Key: "b", ID: "resp_2"}, // after b's record: b's latest is still its record
	)
	raw, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if want := `{"kind":"response","key":"a","id":"resp_1","time":"2026-11-30T01:02:03Z"}`; lines[0] != want {
		t.Errorf("mark line = %s, want %s", lines[0], want)
	}

	var order []string
	info, err := results.ScanMarks(path, func(r *results.Record) { order = append(order, "rec:"+r.CustomID) },
		func(m *results.Mark) { order = append(order, "mark:"+m.Kind+":"+m.ID) })
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(order, ","), "mark:response:resp_1,rec:a,mark:batch:batch_1,rec:b,mark:response:resp_2"; got != want {
		t.Errorf("scan order = %s, want %s", got, want)
	}
	if info.Lines != 5 || info.Marks != 3 || info.Size != int64(len(raw)) {
		t.Errorf("ScanInfo = %+v, want 5 lines, 3 marks, size %d", info, len(raw))
	}

	tot := results.NewTotals()
	if _, err := results.Scan(path, tot.Add); err != nil {
		t.Fatal(err)
	}
	if tot.Count(results.OK) != 2 || tot.TotalUsage().InputTokens != 30 {
		t.Errorf("totals: %d ok, %d input tokens; want 2 and 30", tot.Count(results.OK), tot.TotalUsage().InputTokens)
	}

	var all []string
	rinfo, err := results.ReadAll([]string{path}, results.FieldResponse, func(r *results.Record, latest bool) error {
		if r.CustomID == "" {
			t.Errorf("ReadAll passed a record without a key: %+v", r)
		}
		if latest {
			all = append(all, r.CustomID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(all, ","); got != "a,b" || rinfo.Keys != 2 || rinfo.Marks != 3 || rinfo.Lines != 5 {
		t.Errorf("ReadAll latest = %s (%d keys, %d lines, %d marks), want a,b (2 keys, 5 lines, 3 marks)", got, rinfo.Keys, rinfo.Lines, rinfo.Marks)
	}
	var each []string
	einfo, err := results.ReadEach([]string{path}, 0, func(r *results.Record) error {
		each = append(each, r.CustomID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if einfo.Marks != 3 {
		t.Errorf("ReadEach counted %d marks, want 3", einfo.Marks)
	}
	if got := strings.Join(each, ","); got != "a,b" {
		t.Errorf("ReadEach = %s, want a,b", got)
	}
}

// A mark torn by a crash is cut like a torn record, and the resume scan
// hands the marks before it to its callback.
func TestMarks_TornMarkIsCut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	writeMixed(t, path, &results.Mark{Kind: "response", Key: "a", ID: "resp_1"}, ok("a", 1, 1))
	good, _ := os.Stat(path)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"kind":"response","key":"b","id":"re`)
	f.Close()

	var ids []string
	j, info, err := results.Resume(path, nil, func(m *results.Mark) { ids = append(ids, m.ID) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if info.TornBytes == 0 || strings.Join(ids, ",") != "resp_1" {
		t.Errorf("Resume: torn %d, marks %v; want a torn tail and [resp_1]", info.TornBytes, ids)
	}
	if st, _ := os.Stat(path); st.Size() != good.Size() {
		t.Errorf("size after resume = %d, want %d", st.Size(), good.Size())
	}
	// A line that is neither a record nor a mark, before the last, is
	// still corrupt.
	os.WriteFile(path, []byte("{\"kind\":3}\n{\"custom_id\":\"a\"}\n"), 0o644)
	if _, err := results.Scan(path, nil); err == nil {
		t.Error("Scan accepted a line with neither custom_id nor a kind")
	}
}

// A Journal counts its records and its marks apart: the closing lines'
// "rows finished" must not count a mode's marks.
func TestJournal_CountsMarksApart(t *testing.T) {
	j, err := results.OpenJournal(filepath.Join(t.TempDir(), "j.jsonl"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	j.AddMark(&results.Mark{Kind: "response", Key: "a", ID: "resp_1"})
	j.Add(ok("a", 1, 1))
	j.AddMark(&results.Mark{Kind: "response", Key: "b", ID: "resp_2"})
	if _, err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	if j.Records() != 1 || j.Marks() != 2 {
		t.Errorf("Records() = %d, Marks() = %d; want 1 and 2", j.Records(), j.Marks())
	}
}
