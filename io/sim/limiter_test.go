package sim

import (
	"testing"
	"time"
)

func TestLimiter_Take(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	type step struct {
		at       time.Duration // since t0
		cost     int64
		wantDim  string // "" when admitted
		wantWait time.Duration
	}
	tests := []struct {
		name     string
		rpm, tpm int
		empty    bool
		steps    []step
	}{
		{
			name: "RPMBurstThenRefill",
			rpm:  2,
			steps: []step{
				{0, 0, "", 0},
				{0, 0, "", 0},
				{0, 0, "requests", 30 * time.Second},
				{10 * time.Second, 0, "requests", 20 * time.Second}, // the refusal consumed nothing
				{30 * time.Second, 0, "", 0},
				{30 * time.Second, 0, "requests", 30 * time.Second},
			},
		},
		{
			name: "TPMWaitsForTokens",
			tpm:  600, // 10 per second
			steps: []step{
				{0, 550, "", 0},
				{0, 100, "tokens", 5 * time.Second},
				{5 * time.Second, 100, "", 0},
				{5 * time.Second, 1, "tokens", 100 * time.Millisecond},
			},
		},
		{
			name: "LongerWaitWins",
			rpm:  60, tpm: 60,
			steps: []step{
				{0, 60, "", 0},
				{0, 30, "tokens", 30 * time.Second},
			},
		},
		{
			name: "TooLarge",
			tpm:  100,
			steps: []step{
				{0, 101, "tokens", 0},
				{0, 100, "", 0},
			},
		},
		{
			name:  "StartEmpty",
			rpm:   600, // 10 per second
			tpm:   6000,
			empty: true,
			steps: []step{
				{0, 10, "requests", 100 * time.Millisecond},
				{100 * time.Millisecond, 10, "", 0},
				{200 * time.Millisecond, 20, "tokens", 100 * time.Millisecond},
				{300 * time.Millisecond, 20, "", 0},
			},
		},
		{
			name: "ClockBackwards",
			rpm:  1,
			steps: []step{
				{time.Minute, 0, "", 0},
				{0, 0, "requests", time.Minute},
				{2 * time.Minute, 0, "", 0},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLimiter(tt.rpm, tt.tpm, tt.empty)
			for i, s := range tt.steps {
				d, _ := l.take(t0.Add(s.at), s.cost)
				var dim string
				var wait time.Duration
				if d != nil {
					dim, wait = d.dimension, d.wait
				}
				if dim != s.wantDim || wait != s.wantWait {
					t.Errorf("step %d: take() = %q %v, want %q %v", i, dim, wait, s.wantDim, s.wantWait)
				}
			}
		})
	}
}

func TestCeilMillis(t *testing.T) {
	tests := []struct {
		sec  float64
		want string
	}{
		{0, "0s"},
		{0.0121, "13ms"},
		{1, "1s"},
		{1.0000000001, "1s"},
		{90.5, "1m30.5s"},
		{360, "6m0s"},
	}
	for _, tt := range tests {
		if got := ceilMillis(tt.sec).String(); got != tt.want {
			t.Errorf("ceilMillis(%v) = %s, want %s", tt.sec, got, tt.want)
		}
	}
}
