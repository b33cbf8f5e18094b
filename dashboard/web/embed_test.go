package web

import (
	"io/fs"
	"regexp"
	"testing"
)

// TestAssets checks that the embedded page is whole: index.html at the
// root, and the script and stylesheet it names beside it.
func TestAssets(t *testing.T) {
	index, err := fs.ReadFile(Assets, "index.html")
	if err != nil {
		t.Fatalf("read index.html: %v", err)
	}
	refs := regexp.MustCompile(`(?:src|href)="(app\.(?:js|css))\?v=[0-9a-f]+"`).FindAllSubmatch(index, -1)
	if len(refs) != 2 {
		t.Fatalf("index.html names %d of app.js and app.css, want both", len(refs))
	}
	for _, ref := range refs {
		info, err := fs.Stat(Assets, string(ref[1]))
		if err != nil {
			t.Fatalf("index.html names %s: %v", ref[1], err)
		}
		if info.Size() == 0 {
			t.Errorf("%s is empty", ref[1])
		}
	}
}
