package responses

import "github.com/llmbatch/llmbatch/io/api"

// OutputSchema implements api.Schemer: text.format {type: json_schema,
// schema}, or {type: json_object}.
func (API) OutputSchema(body map[string]any) (any, string, bool) {
	text, _ := body["text"].(map[string]any)
	if text == nil {
		return nil, "", false
	}
	s, where, ok := api.FormatSchema(text["format"])
	return s, "text.format." + where, ok
}
