package sdkjs

import (
	"bytes"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestBeaconIsTheBuiltScript(t *testing.T) {
	if !bytes.HasPrefix(Beacon, []byte("(()=>{")) {
		t.Fatalf("Beacon does not look like the minified IIFE: %.40q", Beacon)
	}
	if len(Beacon) > 16<<10 {
		t.Errorf("Beacon is %d bytes; the beacon should stay small", len(Beacon))
	}
}

// TestDemoServedUnderPrefix mounts Demo the way the collector does and
// fetches each page.
func TestDemoServedUnderPrefix(t *testing.T) {
	srv := httptest.NewServer(http.StripPrefix("/demo", http.FileServerFS(Demo)))
	defer srv.Close()
	for _, tc := range []struct{ path, want string }{
		{"/demo/", `action="search.html"`},
		{"/demo/search.html", `id="results"`},
		{"/demo/product.html", `id="add"`},
		{"/demo/shop.js", "export async function loadBeacon"},
	} {
		res, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatalf("GET %s: %v", tc.path, err)
		}
		body, err := io.ReadAll(res.Body)
		if cerr := res.Body.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatalf("read %s: %v", tc.path, err)
		}
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), tc.want) {
			t.Errorf("GET %s: %d, want 200 with %q", tc.path, res.StatusCode, tc.want)
		}
	}
	if _, err := fs.Stat(Demo, "demo"); err == nil {
		t.Error("Demo has a demo/ folder: the files must be at its root")
	}
}
