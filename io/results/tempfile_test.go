package results

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCreateTemp: names are new files under the prefix, so that
// RemoveStaleTemps finds the ones a killed process left.
func TestCreateTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.summary.json")
	seen := map[string]bool{}
	for range 50 {
		f, err := CreateTemp(dir, tempPrefix(path))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if base := filepath.Base(f.Name()); !strings.HasPrefix(base, tempPrefix(path)) || seen[base] {
			t.Fatalf("temp file %s: wrong prefix or reused", base)
		}
		seen[filepath.Base(f.Name())] = true
	}
	if err := RemoveStaleTemps(path); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("%d temp files left after RemoveStaleTemps", len(left))
	}
	if _, err := CreateTemp(filepath.Join(dir, "missing"), "x"); err == nil {
		t.Error("CreateTemp in a missing dir succeeded")
	}
}
