package moderator

import (
	"cmp"
	"context"

	"github.com/footfall/footfall/reviews"
)

// decider applies rule sets to reviews: the live moderator, its sweep and
// a replay decide alike.
type decider struct{ cls *classifier }

// decideAll decides todo in order under the current rule sets. A
// review's look at its author's earlier reviews sees the decisions made
// earlier in the same call, before they are written.
func (d *decider) decideAll(ctx context.Context, q querier, todo []review) ([]decided, error) {
	if len(todo) == 0 {
		return nil, nil
	}
	var sites []string
	seen := map[string]bool{}
	for _, r := range todo {
		if !seen[r.site] {
			seen[r.site] = true
			sites = append(sites, r.site)
		}
	}
	rules, err := loadRules(ctx, q, sites)
	if err != nil {
		return nil, err
	}
	overlay := map[reviewKey]string{}
	out := make([]decided, 0, len(todo))
	for _, r := range todo {
		dec, err := d.decide(ctx, q, rules[r.site], r, overlay)
		if err != nil {
			return nil, err
		}
		k := reviewKey{r.site, r.id}
		overlay[k] = dec.Status
		out = append(out, decided{key: k, Decision: dec})
	}
	return out, nil
}

// decide applies rs to r: the local rules first, then, if r passed them
// all and the site has one, the classifier hook. overlay holds decisions
// not yet written, by review.
func (d *decider) decide(ctx context.Context, q querier, rs *Rules, r review, overlay map[reviewKey]string) (Decision, error) {
	before, err := history(ctx, q, r)
	if err != nil {
		return Decision{}, err
	}
	for i := range before {
		if s, ok := overlay[reviewKey{r.site, before[i].id}]; ok {
			before[i].status = s
		}
	}
	dec, rejected := decideLocal(rs, r, before)
	if rejected || rs.ClassifierURL == "" {
		return dec, nil
	}
	flagged, reason, err := d.cls.ask(ctx, rs.ClassifierURL, r.title+"\n"+r.body)
	if err != nil {
		return Decision{}, err
	}
	if flagged {
		return Decision{Status: reviews.Rejected, Rule: RuleClassifier, Reason: cmp.Or(reason, "flagged by the shop's classifier"), Version: rs.Version}, nil
	}
	return dec, nil
}
