package app

import (
	"slices"
	"testing"
)

// What a module hands over with Deps.Closer (the collector's spool) closes
// after its service has returned, and before the shared resources opened
// earlier (the producer it drains into).
func TestCloserClosesBeforeEarlierResources(t *testing.T) {
	svc := &fakeService{name: "collector"}
	r := newRig(t, nil, svc)
	r.p.opened = []resource{{"kafka producer", func() error { r.j.add("closed kafka producer"); return nil }}}
	build := r.p.builders[0]
	r.p.builders[0] = func(d *Deps) (Service, error) {
		if err := d.Closer("collector spool", func() error { r.j.add("closed collector spool"); return nil }); err != nil {
			return nil, err
		}
		return build(d)
	}
	r.start()
	r.waitListening("collector")
	r.stop()
	if err := r.wait(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []string{"collector: flushed with readiness 503", "closed collector spool", "closed kafka producer"}
	if got := r.j.all(); !slices.Equal(got, want) {
		t.Fatalf("shutdown went %q, want %q", got, want)
	}
}
