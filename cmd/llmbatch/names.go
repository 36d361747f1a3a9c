package main

// flagNames names, for package pipeline's messages, the flag (or argument)
// that sets each Config field: the library speaks of Config.MaxCost, the
// command of --max-cost (pipeline.Config.Names).
var flagNames = map[string]string{
	"Input":        "INPUT",
	"InputFormat":  "--input-format",
	"Output":       "-o",
	"Model":        "--model (or OPENAI_MODEL)",
	"Prompt":       "--prompt",
	"PromptColumn": "--prompt-column",
	"Instructions": "--instructions",
	"Body":         "--body",
	"IDColumn":     "--id-column",
	"ModelColumn":  "--model-column",
	"KeepColumns":  "--keep-columns",
	"Delimiter":    "--delimiter",
	"MaxRowBytes":  "--max-row-bytes",
	"API":          "--endpoint",
	"PackSize":     "--embed-batch",
	"BaseURL":      "--base-url or OPENAI_BASE_URL",
	"Header":       "-H",
	"Concurrency":  "--concurrency",
	"MaxAttempts":  "--max-attempts",
	"RPM":          "--rpm",
	"TPM":          "--tpm",
	"Timeout":      "--timeout",
	"DrainTimeout": "--drain-timeout",
	"Force":        "--force",
	"RetryFailed":  "--retry-failed",
	"Limit":        "--limit",
	"Strict":       "--strict",
	"Prices":       "--prices FILE",
	"MaxCost":      "--max-cost",
	"Reask":        "--reask",
	"Reuse":        "--reuse",

	// Many machines (shards, metrics, journals on object storage).
	"Shards":         "--shards",
	"ShardIndex":     "--shard-index (or JOB_COMPLETION_INDEX)",
	"Observer":       "--metrics-addr",
	"WorkDir":        "--work-dir",
	"UploadInterval": "--upload-interval",

	"EstimateOptions.AssumeOutput": "--assume-output",
	"EstimateOptions.From":         "--from",
}

// flagName is pipeline.Config.Names for the command.
func flagName(field string) string { return flagNames[field] }
