package sim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/llmbatch/llmbatch/io/sim"
)

// Start a simulated endpoint on loopback and send it one request, as a
// client of POST /v1/responses would.
func Example() {
	s := sim.New(sim.Config{Seed: 1})
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	body := `{"model":"gpt-4o-mini","input":"The service was great."}`
	resp, err := http.Post(base+"/responses", "application/json", strings.NewReader(body))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Output []struct {
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		} `json:"output"`
		Usage struct {
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
		} `json:"usage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.StatusCode, r.Status, r.Output[0].Content[0].Text)
	fmt.Println("tokens:", r.Usage.InputTokens, r.Usage.OutputTokens)
	fmt.Println("requests:", s.Stats().Requests)
	// Output:
	// 200 completed negative
	// tokens: 10 2
	// requests: 1
}
