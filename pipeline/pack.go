package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/tokens"
)

// Packing: for an API that sends several rows in one request (api.Packer:
// embeddings), the producer gathers consecutive rows whose bodies differ
// only in their input (same model, built from the job's template) into one
// request of at most Config.PackSize rows and MaxPackTokens input tokens.
// The pack is sent, retried, paced and capped like any request; its
// answer is split into one record per row (api.Packer.Unpack), each with
// its own request hash, so that resume works row by row. A pack that
// fails for good (a 400 for one bad input fails them all) is sent again
// row by row, so that only the bad row fails.

// DefaultPackSize is Config.PackSize's default.
const DefaultPackSize = 128

// MaxPackTokens bounds the input tokens of one packed request (OpenAI
// accepts 300k tokens per embeddings request; the estimate is o200k's,
// the models' tokenizer may count a little differently).
const MaxPackTokens = 250_000

// packer gathers requests into packs. It is used by the producer only.
type packer struct {
	p       api.Packer
	size    int
	counter *tokens.Counter
	rows    []*Request
	bytes   int64 // of the rows' bodies: a bound of their input tokens
}

// newPacker returns a packer for the job's API, or nil when it does not
// pack (or PackSize is 1).
func newPacker(cfg *Config, a api.API) (*packer, error) {
	p, ok := a.(api.Packer)
	if !ok || cfg.PackSize == 1 {
		return nil, nil
	}
	c, err := tokens.New()
	if err != nil {
		return nil, err
	}
	return &packer{p: p, size: cfg.PackSize, counter: c}, nil
}

// packable reports whether req may join the pack being gathered: a row
// built from the job's template, of the same API and model. Batch API
// lines carry bodies of their own and go alone.
func (k *packer) packable(req *Request) bool {
	if req.ownBody {
		return false
	}
	if len(k.rows) == 0 {
		return true
	}
	first := k.rows[0]
	return req.api == first.api && req.model == first.model
}

// add adds req and returns the requests to send now: a pack that is full
// or cannot take req, and req itself when it cannot be packed.
func (k *packer) add(req *Request) []*Request {
	var out []*Request
	if !k.packable(req) {
		out = append(out, k.flush()...)
		return append(out, req)
	}
	// Tokens are counted (which costs more than the rest of a row) only
	// when the bound says the pack may pass MaxPackTokens; the workers
	// count the rest, in parallel (pack.weightsOf).
	n := int64(len(req.body))
	if len(k.rows) > 0 && k.bytes+n > MaxPackTokens && k.inputTokens()+req.cost(k.counter).InputTokens > MaxPackTokens {
		out = k.flush()
	}
	k.rows = append(k.rows, req)
	k.bytes += n
	if len(k.rows) >= k.size {
		out = append(out, k.flush()...)
	}
	return out
}

// flush returns the gathered rows as one request (none when empty; the
// row itself when alone).
func (k *packer) flush() []*Request {
	rows := k.rows
	k.rows, k.bytes = nil, 0
	switch len(rows) {
	case 0:
		return nil
	case 1:
		return rows
	}
	bodies := make([][]byte, len(rows))
	for i, r := range rows {
		bodies[i] = r.body
	}
	body, err := k.p.Pack(bodies)
	if err != nil {
		// Bodies the API cannot pack go one by one.
		return rows
	}
	sum := sha256.Sum256(body)
	first := rows[0]
	return []*Request{{key: first.key, index: first.index, body: body, sha: hex.EncodeToString(sum[:]),
		model: first.model, api: first.api, pack: &pack{p: k.p, rows: rows}}}
}

// inputTokens counts the input tokens of the gathered rows. A row's
// input tokens are never more than its body's bytes (a token is at least
// a byte of the text, which the body holds at least as long; an id of a
// pre-tokenized input at least a digit; what Meter cannot read it counts
// a token per 4 bytes: TestPackBound), so the packer counts them only
// when the bytes pass MaxPackTokens.
func (k *packer) inputTokens() int64 {
	var n int64
	for _, r := range k.rows {
		n += r.cost(k.counter).InputTokens
	}
	return n
}

// pack is a packed request's rows and the decoder of its answers.
type pack struct {
	p       api.Packer
	rows    []*Request
	weights []int64      // the rows' shares of the usage, on first use (weightsOf)
	results []api.Result // of the last answer decoded
}

// weightsOf returns the rows' weights in the split of the answer's usage:
// the length of each row's input as JSON text. The rows' bodies are equal
// but for their input, so that is a body's length less what the first
// body holds besides its input: no token is counted and no body but the
// first is parsed.
func (p *pack) weightsOf() []int64 {
	if p.weights == nil {
		p.weights = make([]int64, len(p.rows))
		var first struct {
			Input json.RawMessage `json:"input"`
		}
		_ = json.Unmarshal(p.rows[0].body, &first)
		rest := len(p.rows[0].body) - len(first.Input)
		for i, r := range p.rows {
			p.weights[i] = max(int64(len(r.body)-rest), 1)
		}
	}
	return p.weights
}

// Decode implements httpapi.Decoder: it unpacks the answer, keeping the
// rows' results, and returns the request's whole result.
func (p *pack) Decode(body []byte) (api.Result, error) {
	p.results = nil
	rs, err := p.p.Unpack(body, p.weightsOf())
	if err != nil {
		return api.Partial(body), err
	}
	p.results = rs
	whole := api.Result{Status: "completed"}
	for _, r := range rs {
		whole.Usage.Add(r.Usage)
		whole.Model = r.Model
	}
	return whole, nil
}

// decoder returns what decodes req's answers.
func (r *Request) decoder() httpapi.Decoder {
	if r.pack != nil {
		return r.pack
	}
	return r.api
}

// unpack turns a packed request's record into one record per row: each
// with its row's key, index, request hash and kept columns, and, when the
// answer was whole, its share of the answer (body and usage). A failed
// pack's usage, if any, is split over the rows by weight.
func (p *pack) unpack(rec *results.Record) []*results.Record {
	out := make([]*results.Record, len(p.rows))
	var split [5][]int64
	if rec.Error != nil || p.results == nil {
		u := rec.Usage
		for i, n := range []int64{u.InputTokens, u.CachedInputTokens, u.OutputTokens, u.ReasoningTokens, u.TotalTokens} {
			split[i] = api.Split(n, p.weightsOf())
		}
	}
	for i, row := range p.rows {
		c := *rec
		c.CustomID, c.Index, c.RequestSHA256, c.Input = row.key, row.index, row.sha, row.keep
		if rec.Error == nil && p.results != nil {
			res := p.results[i]
			c.Usage = res.Usage
			if rec.Response != nil {
				resp := *rec.Response
				resp.Body = res.Body
				c.Response = &resp
			}
		} else {
			c.Usage = api.Usage{InputTokens: split[0][i], CachedInputTokens: split[1][i], OutputTokens: split[2][i],
				ReasoningTokens: split[3][i], TotalTokens: split[4][i]}
			if rec.Error != nil {
				e := *rec.Error
				e.Message = fmt.Sprintf("%s (a request of %d packed rows)", e.Message, len(p.rows))
				c.Error = &e
			}
		}
		out[i] = &c
	}
	return out
}
