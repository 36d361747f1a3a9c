package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/pipeline"
)

// Every Config field a message may name has its flag: a message of the
// command never says "Config.X". A field added to Config without a flag
// is listed here so that adding one is a decision.
func TestFlagNames_CoverConfig(t *testing.T) {
	noFlag := map[string]bool{"Stdin": true, "Executor": true, "Endpoint": true, "APIKey": true, "RawAuth": true,
		"HTTPClient": true, "RetryInitial": true, "RetryMax": true, "SyncInterval": true, "Logger": true, "Progress": true,
		"ProgressInterval": true, "SummaryInterval": true, "Names": true, "OnRecord": true, "Reader": true}
	typ := reflect.TypeFor[pipeline.Config]()
	for _, sf := range reflect.VisibleFields(typ) {
		f := sf.Name
		if sf.Anonymous { // Source, Template: their fields are listed too
			continue
		}
		if !noFlag[f] && flagNames[f] == "" {
			t.Errorf("Config.%s has no flag name in flagNames", f)
		}
	}
	for f, n := range flagNames {
		if _, ok := typ.FieldByName(f); !ok && !strings.HasPrefix(f, "EstimateOptions.") {
			t.Errorf("flagNames[%q] = %q names no Config field", f, n)
		}
	}
}
