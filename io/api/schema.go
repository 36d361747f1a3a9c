package api

// Schemer is implemented by an API whose request bodies may ask for
// structured output: a JSON schema the answer's output text must follow
// (Responses: text.format {type: json_schema, name, schema, strict}; chat
// completions: response_format {type: json_schema, json_schema: {name,
// schema, strict}}), or any JSON object (type json_object).
type Schemer interface {
	// OutputSchema returns the JSON schema body asks the output to follow,
	// as decoded from the body (maps, slices, json.Number): for
	// json_object, {"type": "object"}. ok is false when body asks for
	// plain text. where names the member for messages
	// ("text.format.schema").
	OutputSchema(body map[string]any) (schema any, where string, ok bool)
}

// CodeSchemaInvalid is the code of a row whose answer completed but whose
// output does not parse as JSON or does not follow the request's schema.
const CodeSchemaInvalid = "schema_invalid"

// objectSchema is the schema of a json_object answer.
func objectSchema() any { return map[string]any{"type": "object"} }

// FormatSchema reads a format object as both APIs write it: {type:
// json_schema, schema} (Responses' text.format), {type: json_schema,
// json_schema: {schema}} (chat's response_format), or {type:
// json_object}. It returns the schema and the member holding it, relative
// to the format; ok is false for any other format.
func FormatSchema(format any) (schema any, where string, ok bool) {
	f, _ := format.(map[string]any)
	if f == nil {
		return nil, "", false
	}
	switch f["type"] {
	case "json_object":
		return objectSchema(), "type", true
	case "json_schema":
		if s, ok := f["schema"]; ok && s != nil {
			return s, "schema", true
		}
		if js, _ := f["json_schema"].(map[string]any); js != nil {
			if s, ok := js["schema"]; ok && s != nil {
				return s, "json_schema.schema", true
			}
		}
		// A json_schema format without a schema: the server refuses
		// it; nothing to check.
	}
	return nil, "", false
}
