package api

import (
	"testing"
)

func TestSplitSumsExactly(t *testing.T) {
	cases := []struct {
		n       int64
		weights []int64
	}{
		{10, []int64{1, 1, 1}},
		{7, []int64{0, 0}},
		{1, []int64{5, 5, 5, 5}},
		{1000003, []int64{17, 3, 900, 1, 0}},
		{0, []int64{4, 2}},
		{5, []int64{-3, 2}},
	}
	for _, c := range cases {
		parts := Split(c.n, c.weights)
		var sum int64
		for _, p := range parts {
			if p < 0 {
				t.Fatalf("Split(%d, %v) = %v: negative part", c.n, c.weights, parts)
			}
			sum += p
		}
		if sum != c.n {
			t.Fatalf("Split(%d, %v) = %v sums to %d", c.n, c.weights, parts, sum)
		}
	}
	if got := Split(9, []int64{1, 2}); got[0] != 3 || got[1] != 6 {
		t.Fatalf("Split(9, [1 2]) = %v, want [3 6]", got)
	}
}

func TestParseUsageShapes(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want Usage
	}{
		{`{"input_tokens":10,"input_tokens_details":{"cached_tokens":4},"output_tokens":7,"output_tokens_details":{"reasoning_tokens":5}}`, Usage{10, 4, 7, 5, 17}},
		{`{"prompt_tokens":10,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens":7,"total_tokens":17}`, Usage{10, 4, 7, 0, 17}},
		{`{"prompt_tokens":10,"prompt_cache_hit_tokens":6,"prompt_cache_miss_tokens":4,"completion_tokens":2,"total_tokens":12}`, Usage{10, 6, 2, 0, 12}},
		{`{"prompt_tokens":8,"total_tokens":8}`, Usage{8, 0, 0, 0, 8}},
	} {
		got, err := ParseUsage([]byte(c.raw))
		if err != nil || got != c.want {
			t.Errorf("ParseUsage(%s) = %+v, %v; want %+v", c.raw, got, err, c.want)
		}
	}
}
