package moderator

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"mvdan.cc/xurls/v2"

	"github.com/footfall/footfall/reviews"
)

// Rules are one site's moderation rule set as of Version (moderation_rules,
// migration 0007).
type Rules struct {
	Version        int64
	Banned         []bannedWord
	MaxLinks       int
	MinUniqueRatio float64
	AuthorMax      int
	AuthorWindow   time.Duration
	ClassifierURL  string
}

// Rule names, the prefix of a rejected review's decided_by_rule.
const (
	RuleBannedWord   = "banned_word"
	RuleLinks        = "links"
	RuleRepeatedText = "repeated_text"
	RuleAuthorRate   = "author_rate"
	RuleClassifier   = "classifier"
)

// loadRules reads the rule sets of sites, each site's own or the default.
func loadRules(ctx context.Context, q querier, sites []string) (map[string]*Rules, error) {
	rows, err := q.Query(ctx, `
		SELECT site_id, version, banned_words, max_links, min_unique_ratio, author_max_reviews, author_window_seconds, classifier_url
		FROM moderation_rules WHERE site_id = '' OR site_id = ANY($1)`, sites)
	if err != nil {
		return nil, fmt.Errorf("read moderation_rules: %w", err)
	}
	byRow := map[string]*Rules{}
	var site string
	var words []string
	var window int
	r := Rules{}
	_, err = pgx.ForEachRow(rows, []any{&site, &r.Version, &words, &r.MaxLinks, &r.MinUniqueRatio, &r.AuthorMax, &window, &r.ClassifierURL}, func() error {
		rs := r
		rs.AuthorWindow = time.Duration(window) * time.Second
		rs.Banned = nil
		for _, w := range words {
			if b, ok := newBannedWord(w); ok {
				rs.Banned = append(rs.Banned, b)
			}
		}
		byRow[site] = &rs
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read moderation_rules: %w", err)
	}
	if byRow[""] == nil {
		return nil, fmt.Errorf("moderation_rules has no default row (site_id '')")
	}
	out := make(map[string]*Rules, len(sites))
	for _, s := range sites {
		if rs, ok := byRow[s]; ok {
			out[s] = rs
		} else {
			out[s] = byRow[""]
		}
	}
	return out, nil
}

// Decision is what the rules made of a review.
type Decision struct {
	Status  string // reviews.Approved or reviews.Rejected
	Rule    string // "" when approved; "banned_word:hate", "links", …
	Reason  string // a sentence for the author
	Version int64
}

// review is a stored review as the rules see it.
type review struct {
	site, id, product, author string
	title, body               string
	createdAt                 time.Time
	status, rule              string
	version                   int64
}

// earlier is one of the author's reviews before the one being decided.
type earlier struct {
	id        string
	body      string
	createdAt time.Time
	status    string
}

// links finds links with or without a scheme ("shop.example/deal").
var links = xurls.Relaxed()

// decideLocal applies the rules that need nothing but the review and its
// author's earlier reviews, cheapest first; ok is false when every one
// passed (the classifier, if any, is asked next).
func decideLocal(rs *Rules, r review, before []earlier) (d Decision, rejected bool) {
	reject := func(rule, reason string) (Decision, bool) {
		return Decision{Status: reviews.Rejected, Rule: rule, Reason: reason, Version: rs.Version}, true
	}
	text := r.title + "\n" + r.body
	if b, found := findBanned(rs.Banned, text); found {
		return reject(RuleBannedWord+":"+b.raw, "the review contains a word this shop does not publish")
	}
	if n := len(links.FindAllStringIndex(text, -1)); n > rs.MaxLinks {
		return reject(RuleLinks, fmt.Sprintf("the review contains %d link(s); at most %d allowed", n, rs.MaxLinks))
	}
	words := Words(r.body)
	if mostlyRepeated(words, rs.MinUniqueRatio) {
		return reject(RuleRepeatedText, "the review repeats the same words")
	}
	same := strings.Join(words, " ")
	inWindow := 0
	for _, e := range before {
		if e.status != reviews.Rejected && same != "" && strings.Join(Words(e.body), " ") == same {
			return reject(RuleRepeatedText, "the same text was posted before by the same author")
		}
		if r.createdAt.Sub(e.createdAt) < rs.AuthorWindow {
			inWindow++
		}
	}
	if rs.AuthorMax > 0 && inWindow >= rs.AuthorMax {
		return reject(RuleAuthorRate, fmt.Sprintf("more than %d reviews by one author within %s", rs.AuthorMax, rs.AuthorWindow))
	}
	return Decision{Status: reviews.Approved, Version: rs.Version}, false
}
