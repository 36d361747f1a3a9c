package main

import (
	"flag"
	"fmt"

	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/pipeline"
)

// answerOptions are run's flags about answers: re-asking those that break
// the request's JSON schema, reusing earlier journals' answers.
type answerOptions struct {
	Reask int // --reask
}

func (o *answerOptions) register(fs *flag.FlagSet) {
	fs.IntVar(&o.Reask, "reask", 0, "send a row again, up to `N` times, when its answer breaks the body's JSON schema (text.format / response_format), is not JSON, or is a refusal; every answer is paid for and counted")
}

func (o *answerOptions) validate() error {
	if o.Reask < 0 {
		return usagef("run: --reask must not be negative")
	}
	return nil
}

func (o *answerOptions) apply(cfg *pipeline.Config) {
	cfg.Reask = o.Reask
}

// printAnswers adds the re-asks and reused rows to the closing totals.
func printAnswers(env environ, s *results.Summary) {
	if r := s.Reasks; r != nil {
		fmt.Fprintf(env.stderr, "re-asks: %d (answers that broke the schema or refused, asked again), %d input + %d output tokens, cost %s (in the totals above)\n",
			r.Records, r.Usage.InputTokens, r.Usage.OutputTokens, r.Cost)
	}
}
