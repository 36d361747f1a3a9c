package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"slices"
)

// Kinds of answers that break a request's JSON schema (Config.SchemaBreak),
// counted in Stats.Faults under these names.
const (
	BreakWrongType = "schema_wrong_type" // a property of the wrong type
	BreakMissing   = "schema_missing"    // a required property left out
	BreakNotJSON   = "schema_not_json"   // prose around the JSON: not JSON at all
	BreakRefusal   = "schema_refusal"    // a refusal instead of output
)

// breakKinds are the kinds, drawn with equal odds.
var breakKinds = [...]string{BreakWrongType, BreakMissing, BreakNotJSON, BreakRefusal}

// refusalText is what a refusal says.
const refusalText = "I'm sorry, but I can't help with that request."

// formatOf returns the output format a parsed request asks for.
func formatOf(req call) textFormat {
	switch r := req.(type) {
	case *request:
		return r.format
	case *chatRequest:
		return r.format
	}
	return textFormat{}
}

// breakSchema rewrites a 200 answer to a json_schema request so that its
// output breaks the schema, for Config.SchemaBreak of such answers. The
// draw is deterministic in (Seed, key), where key names the attempt (the
// online path: the attempt's fault draw, which covers the body and how
// many times it was seen; a batch: the batch and line). Usage, billing and
// Completed are those of the answer as it was: a broken answer is paid
// for. It returns the kind of break, or "".
func (s *Server) breakSchema(req call, rep *reply, key []byte) string {
	c := &s.cfg
	if c.SchemaBreak <= 0 || formatOf(req).Type != "json_schema" || !rep.completed {
		return ""
	}
	d := digest(c.Seed, "schema_break", key)
	if unit(d) >= c.SchemaBreak {
		return ""
	}
	kind := breakKinds[d[8]%byte(len(breakKinds))]
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(rep.body))
	dec.UseNumber()
	if dec.Decode(&m) != nil {
		return ""
	}
	edit := func(text string) string { return brokenText(text, formatOf(req).Schema, kind, d) }
	switch req.(type) {
	case *request:
		items, _ := m["output"].([]any)
		for _, it := range items {
			item, _ := it.(map[string]any)
			if item == nil || item["type"] != "message" {
				continue
			}
			parts, _ := item["content"].([]any)
			for i, p := range parts {
				part, _ := p.(map[string]any)
				if part == nil || part["type"] != "output_text" {
					continue
				}
				if kind == BreakRefusal {
					parts[i] = map[string]any{"type": "refusal", "refusal": refusalText}
					continue
				}
				text, _ := part["text"].(string)
				part["text"] = edit(text)
			}
		}
	case *chatRequest:
		choices, _ := m["choices"].([]any)
		for _, ch := range choices {
			choice, _ := ch.(map[string]any)
			msg, _ := choice["message"].(map[string]any)
			if msg == nil {
				continue
			}
			if kind == BreakRefusal {
				msg["content"] = nil
				msg["refusal"] = refusalText
				continue
			}
			text, _ := msg["content"].(string)
			msg["content"] = edit(text)
		}
	default:
		return ""
	}
	b, err := json.Marshal(m)
	if err != nil {
		return ""
	}
	rep.body = b
	return kind
}

// brokenText rewrites text, a JSON value valid for schema, to break it as
// kind says. A value it cannot break so (no object, no required
// property) gets a wrong type; one that has no type to get wrong becomes
// prose.
func brokenText(text string, schema json.RawMessage, kind string, d [sha256.Size]byte) string {
	if kind == BreakNotJSON {
		return "Sure! Here is the JSON you asked for:\n" + text
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return "Sure! " + text
	}
	var n struct {
		Required []string `json:"required"`
	}
	_ = json.Unmarshal(schema, &n)
	obj, _ := v.(map[string]any)
	if kind == BreakMissing && obj != nil {
		for _, r := range n.Required {
			if _, ok := obj[r]; ok {
				delete(obj, r)
				b, _ := json.Marshal(obj)
				return string(b)
			}
		}
	}
	if obj != nil && len(obj) > 0 {
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		k := keys[int(d[9])%len(keys)]
		obj[k] = wrongValue(obj[k])
		b, _ := json.Marshal(obj)
		return string(b)
	}
	b, _ := json.Marshal(wrongValue(v))
	return string(b)
}

// wrongValue is a value of another JSON type than v: a string for a
// number, a boolean or null, a number for anything else.
func wrongValue(v any) any {
	switch v.(type) {
	case json.Number, bool, nil:
		return "not a " + jsonTypeName(v)
	}
	return json.Number("42")
}

func jsonTypeName(v any) string {
	switch v.(type) {
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}
