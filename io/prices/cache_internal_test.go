package prices

import (
	"fmt"
	"sync"
	"testing"
)

// TestTable_ResolveCached: answers come from the cache once asked, are
// the same as the first time, and past the cache's bound names are still
// resolved (uncached), concurrently.
func TestTable_ResolveCached(t *testing.T) {
	tab := Default()
	names := []string{"gpt-5-mini", "GPT-5-Mini-2025-08-07", "openai/gpt-5", "nope", "gpt-5-mini-high"}
	want := map[string]resolution{}
	for _, n := range names {
		e, ok := tab.resolve(n)
		want[n] = resolution{e, ok}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 3000 {
				n := names[(i+g)%len(names)]
				if i%2 == 1 {
					n = fmt.Sprintf("unknown-%d-%d", g, i) // fills the cache past its bound
				}
				e, ok := tab.Resolve(n)
				w, known := want[n]
				if !known {
					w = resolution{"", false}
				}
				if e != w.entry || ok != w.ok {
					t.Errorf("Resolve(%q) = %q %v, want %q %v", n, e, ok, w.entry, w.ok)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := tab.nResolved.Load(); n > maxResolved+4 {
		t.Fatalf("%d names cached, bound %d", n, maxResolved)
	}
}
