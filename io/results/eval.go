package results

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
)

// NoAnswer is the predicted class of a row that has no value to compare:
// it failed, or its output lacks the field (or is not JSON).
const NoAnswer = "(no answer)"

// Eval compares what the answers say with what an input column expected:
// accuracy, per-class precision and recall, a confusion matrix and the
// first disagreeing rows. Build one with NewEval, Add each key's latest
// record (read with FieldOutputText and FieldInput, as ReadLatest gives
// them), then Finish.
//
// A row counts when its kept input (--keep-columns) has the expected
// column (non-null). Its answer is the output's top-level Field, parsed as
// JSON, or the whole output_text when Field is ""; a value that is not a
// string is compared as its JSON text ("3", "true"), and both sides are
// trimmed of surrounding white space, nothing else: "Positive" and
// "positive" disagree. A failed row, or an output without the field, is
// answered NoAnswer, which counts as wrong.
type Eval struct {
	Expect string `json:"expect"`          // the input column
	Field  string `json:"field,omitempty"` // the output's field; "" for output_text
	// Rows are the rows compared; Skipped the rows without the expected
	// column.
	Rows    int64 `json:"rows"`
	Skipped int64 `json:"skipped"`
	Correct int64 `json:"correct"`
	// Accuracy is Correct / Rows (0 when no row was compared).
	Accuracy float64 `json:"accuracy"`
	// NoAnswer counts the rows answered NoAnswer.
	NoAnswer int64        `json:"no_answer"`
	Classes  []ClassScore `json:"classes"`
	// Confusion counts rows by expected class, then by predicted class.
	Confusion map[string]map[string]int64 `json:"confusion"`
	// Disagreements are the first MaxDisagreements rows whose answer
	// differs from the expected value, in journal order.
	Disagreements []Disagreement `json:"disagreements"`
}

// ClassScore is one class's scores. A class is any value expected or
// answered. Precision is Correct / Predicted, Recall Correct / Expected;
// each is null when its denominator is 0.
type ClassScore struct {
	Class     string   `json:"class"`
	Expected  int64    `json:"expected"`  // rows expecting it (support)
	Predicted int64    `json:"predicted"` // rows answering it
	Correct   int64    `json:"correct"`
	Precision *float64 `json:"precision"`
	Recall    *float64 `json:"recall"`
}

// Disagreement is a row whose answer differs from its expected value.
type Disagreement struct {
	Key      string `json:"key"`
	Expected string `json:"expected"`
	Got      string `json:"got"`
	Error    string `json:"error,omitempty"` // the row's error code, if it failed
}

// MaxDisagreements bounds Eval.Disagreements.
const MaxDisagreements = 10

// NewEval returns an empty evaluation of field (or output_text, for "")
// against the input column expect.
func NewEval(expect, field string) *Eval {
	return &Eval{Expect: expect, Field: field, Confusion: make(map[string]map[string]int64), Disagreements: []Disagreement{}}
}

// Add compares one key's latest record.
func (e *Eval) Add(rec *Record) {
	want, ok := rec.Input[e.Expect]
	if !ok || want == nil {
		e.Skipped++
		return
	}
	exp := strings.TrimSpace(scalarText(want))
	got := NoAnswer
	if rec.Error == nil {
		if e.Field == "" {
			got = strings.TrimSpace(rec.OutputText)
		} else {
			var out map[string]any
			dec := json.NewDecoder(strings.NewReader(rec.OutputText))
			dec.UseNumber()
			if dec.Decode(&out) == nil {
				if v, ok := out[e.Field]; ok && v != nil {
					got = strings.TrimSpace(scalarText(v))
				}
			}
		}
	}
	e.Rows++
	if got == NoAnswer {
		e.NoAnswer++
	}
	row := e.Confusion[exp]
	if row == nil {
		row = make(map[string]int64)
		e.Confusion[exp] = row
	}
	row[got]++
	if got == exp {
		e.Correct++
		return
	}
	if len(e.Disagreements) < MaxDisagreements {
		d := Disagreement{Key: rec.CustomID, Expected: exp, Got: got}
		if rec.Error != nil {
			d.Error = rec.Error.Code
		}
		e.Disagreements = append(e.Disagreements, d)
	}
}

// scalarText is a value's text: a string as it is, anything else as JSON.
func scalarText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Finish computes the accuracy and the per-class scores.
func (e *Eval) Finish() {
	if e.Rows > 0 {
		e.Accuracy = float64(e.Correct) / float64(e.Rows)
	}
	scores := map[string]*ClassScore{}
	class := func(c string) *ClassScore {
		s := scores[c]
		if s == nil {
			s = &ClassScore{Class: c}
			scores[c] = s
		}
		return s
	}
	for exp, row := range e.Confusion {
		for got, n := range row {
			class(exp).Expected += n
			class(got).Predicted += n
			if got == exp {
				class(exp).Correct += n
			}
		}
	}
	e.Classes = e.Classes[:0]
	for _, c := range slices.Sorted(maps.Keys(scores)) {
		s := scores[c]
		if s.Predicted > 0 {
			p := float64(s.Correct) / float64(s.Predicted)
			s.Precision = &p
		}
		if s.Expected > 0 {
			r := float64(s.Correct) / float64(s.Expected)
			s.Recall = &r
		}
		e.Classes = append(e.Classes, *s)
	}
}
