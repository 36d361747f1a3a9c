package chat

import "github.com/llmbatch/llmbatch/io/api"

// OutputSchema implements api.Schemer: response_format {type:
// json_schema, json_schema: {schema}}, or {type: json_object}.
func (API) OutputSchema(body map[string]any) (any, string, bool) {
	s, where, ok := api.FormatSchema(body["response_format"])
	return s, "response_format." + where, ok
}
