package enricher

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/footfall/footfall/internal/kafka"
)

// Update is one record of the promotion_updates topic: what one committed
// batch changed about one visitor key (an anonymous id, or a vouched-for
// user id). It carries the rows' new absolute values, never increments,
// so a reader that applies it twice, or applies it after reading the same
// rows from PostgreSQL, ends where PostgreSQL is. Readers keep a row only
// if its UpdatedAt is not older than the one they hold: the enricher makes
// updated_at grow with every write of a row (store.go, upsertScores), so a
// late record never undoes a newer one.
type Update struct {
	Site string `json:"site"`
	// User is the user key the Scores are stored under, and the record's
	// Kafka key with Site (UpdateKey): one visitor's updates stay in order
	// on one partition.
	User   string        `json:"user"`
	Scores []ScoreChange `json:"scores,omitempty"`
	// Links are identity links first stored by the batch.
	Links []Link `json:"links,omitempty"`
	// KnownUsers are user ids first vouched for by the batch.
	KnownUsers []string `json:"known_users,omitempty"`
}

// ScoreChange is a user_promotions row as the batch left it.
type ScoreChange struct {
	Promotion   string    `json:"promotion"`
	Score       float64   `json:"score"`
	Reason      string    `json:"reason"`
	LastEventAt time.Time `json:"last_event_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	// HalfLife is how fast Score fades after LastEventAt, in seconds:
	// readers rank by Decayed(Score, LastEventAt, now, HalfLife).
	HalfLife float64 `json:"half_life_seconds"`
	// RuleVersion is the site's rule-set version that computed the row.
	RuleVersion int64     `json:"rule_version"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Link says an anonymous id belongs to a user id.
type Link struct {
	AnonymousID string `json:"anonymous_id"`
	UserID      string `json:"user_id"`
}

// UpdateKey is the Kafka key of the updates about one visitor key.
func UpdateKey(site, user string) string { return site + ":" + user }

// written is what a batch's transaction returned: the rows it upserted and
// the links and users it stored for the first time.
type written struct {
	scores map[visitor][]ScoreChange
	links  []link
	users  []knownUser
}

// visitor is one (site, user key).
type visitor struct{ site, user string }

// updates turns what a batch wrote into one record per visitor key. A
// link is the anonymous id's news (the key its events travel under) and a
// newly known user its own.
func (w written) updates(topic string) ([]kafka.Record, error) {
	byKey := map[visitor]*Update{}
	var order []visitor
	get := func(v visitor) *Update {
		u := byKey[v]
		if u == nil {
			u = &Update{Site: v.site, User: v.user}
			byKey[v] = u
			order = append(order, v)
		}
		return u
	}
	for v, rows := range w.scores {
		get(v).Scores = rows
	}
	for _, l := range w.links {
		u := get(visitor{l.site, l.anonymousID})
		u.Links = append(u.Links, Link{AnonymousID: l.anonymousID, UserID: l.userID})
	}
	for _, k := range w.users {
		u := get(visitor{k.site, k.userID})
		u.KnownUsers = append(u.KnownUsers, k.userID)
	}
	recs := make([]kafka.Record, 0, len(order))
	for _, v := range order {
		b, err := json.Marshal(byKey[v])
		if err != nil {
			return nil, fmt.Errorf("encode promotion update: %w", err)
		}
		recs = append(recs, kafka.Record{Topic: topic, Key: []byte(UpdateKey(v.site, v.user)), Value: b})
	}
	return recs, nil
}

// publishUpdates sends a committed batch's updates. It runs after the
// commit, never inside the transaction: a reader must not see a change
// that could still roll back. If the process dies between the commit and
// this publish (or the publish fails), the change is in PostgreSQL but
// not on the topic, and the next batch does not repeat it. Readers
// recover without it: the promotions view reads, every few seconds, the
// rows PostgreSQL changed since its last read (docs/promotions.md,
// "Recovery"), so a lost record delays a change by at most that interval;
// it is never lost for good. A failed publish is logged and counted, and
// the batch stays committed: returning an error would only make the group
// apply the batch again, which now changes nothing and so publishes
// nothing.
func (e *Enricher) publishUpdates(ctx context.Context, w written) {
	if e.updates == nil || (len(w.scores) == 0 && len(w.links) == 0 && len(w.users) == 0) {
		return
	}
	recs, err := w.updates(e.updatesTopic)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
		err = e.updates.Publish(ctx, recs)
		cancel()
	}
	if err != nil {
		e.m.updatesFailed.Add(float64(len(recs)))
		e.log.Warn("publish promotion updates; readers catch up from PostgreSQL", "records", len(recs), "err", err)
		return
	}
	e.m.updates.Add(float64(len(recs)))
}

// publishTimeout bounds a publish after commit, so a Kafka outage delays
// the next batch by at most this.
const publishTimeout = 5 * time.Second
