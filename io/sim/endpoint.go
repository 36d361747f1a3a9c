package sim

// Endpoint names: the keys of Stats.Endpoints.
const (
	EndpointResponses  = "responses"  // POST /v1/responses
	EndpointChat       = "chat"       // POST /v1/chat/completions
	EndpointEmbeddings = "embeddings" // POST /v1/embeddings
)

// endpoint is one simulated API. Everything else an attempt goes through
// (authentication, the bad-request fault, the quota, injected rate limits,
// the RPM/TPM limits, server errors, resets, truncated bodies, slow answers
// and latency) is shared and decided by Server.decide; an endpoint only
// reads its request body and writes its success body.
type endpoint struct {
	name string
	// parse decodes and checks a body; a non-nil *apiError is the 400.
	parse func(body []byte) (call, *apiError)
	// incomplete reports whether the endpoint has an incomplete answer.
	// Where it has none (embeddings) the Incomplete fault's band answers
	// normally and is not counted as a fault.
	incomplete bool
}

// call is one parsed request.
type call interface {
	// modelName is the model the request names, or "".
	modelName() string
	// cost is the request's charge against the TPM limit: its estimated
	// input tokens plus its output cap, if it sets one.
	cost() int64
	// reply is the 200 answer to the request, answered as model. incomplete
	// is the Incomplete fault. created and finished are Unix times.
	reply(cfg *Config, body []byte, model string, incomplete bool, created, finished int64) reply
}

// reply is a 200 answer's body and what it counts for in Stats.
type reply struct {
	body      []byte
	completed bool  // a whole answer (Stats.Completed)
	usage     usage // billed tokens
}

// The three endpoints.
var (
	responsesAPI  = &endpoint{name: EndpointResponses, parse: parseResponses, incomplete: true}
	chatAPI       = &endpoint{name: EndpointChat, parse: parseChat, incomplete: true}
	embeddingsAPI = &endpoint{name: EndpointEmbeddings, parse: parseEmbeddings}
)

// parseResponses is parseRequest as an endpoint's parse.
func parseResponses(body []byte) (call, *apiError) {
	req, err := parseRequest(body)
	if err != nil {
		return nil, err
	}
	return req, nil
}

func (req *request) modelName() string {
	if req.Model == nil {
		return ""
	}
	return *req.Model
}

func (req *request) cost() int64 {
	c := inputTokens(req)
	if req.MaxOutputTokens != nil {
		c += *req.MaxOutputTokens
	}
	return c
}

func (req *request) reply(cfg *Config, body []byte, model string, incomplete bool, created, finished int64) reply {
	a := compose(cfg.Seed, body, req.prompt(), model, incomplete)
	return reply{
		body:      encodeResponse(cfg.Seed, body, req, model, cfg.Usage, a, created, finished),
		completed: a.status == "completed",
		usage:     a.usage,
	}
}
