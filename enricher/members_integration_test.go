package enricher_test

import (
	"fmt"
	"reflect"
	"testing"
)

// Two members of one group share the topics' partitions and apply them
// side by side; when one leaves, the other takes its partitions over from
// the offsets stored with the scores. Every search counts once throughout.
func TestEnricherMembersShareTheWorkAndCountEachEventOnce(t *testing.T) {
	r := newRig(t)
	cfg := config(r.group())
	w := searchWeight
	const visitors = 40
	want := map[string]map[string]float64{}
	produce := func(keyword, promotion string) {
		for v := range visitors {
			visitor := fmt.Sprintf("anon-%02d", v)
			r.produce(search(visitor, keyword))
			if want[visitor] == nil {
				want[visitor] = map[string]float64{}
			}
			want[visitor][promotion] += w
		}
	}

	produce("kettle", "kettle-deal")
	r.startEnricher(cfg)
	second := r.startEnricher(cfg)
	produce("tower fan", "fan-deal")
	r.waitApplied(cfg.Group)
	second() // the group rebalances onto the first member
	produce("wool blanket", "blanket-deal")
	produce("kettles", "kettle-deal")
	r.waitApplied(cfg.Group)

	for visitor, want := range want {
		if got := r.scores(visitor); !reflect.DeepEqual(got, want) {
			t.Errorf("%s has %v, want %v: each search once", visitor, got, want)
		}
	}
}
