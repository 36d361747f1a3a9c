package tokens_test

import (
	"fmt"

	"github.com/llmbatch/llmbatch/io/tokens"
)

func ExampleCounter_RequestInputTokens() {
	c, err := tokens.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Count("hello world"))

	body := []byte(`{"model":"gpt-5-mini","instructions":"You are a terse classifier.",
		"input":"Label the sentiment: I loved it!"}`)
	n, err := c.RequestInputTokens(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	// 3 reply priming + (3 + 1 "system" + 6) + (3 + 1 "user" + 8)
	fmt.Println(n)
	// Output:
	// 2
	// 25
}
