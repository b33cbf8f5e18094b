package reviews

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
)

// Topic is where new reviews go: PREFIX.reviews.
func Topic(prefix string) string { return event.ReviewsTopic(prefix) }

// Message is a review as the reviews topic carries it, keyed by
// site:author so that one author's reviews reach the moderator in order
// (its per-author rules look back at the author's earlier reviews).
// PostgreSQL holds the review's status; the moderator reads it from there.
type Message struct {
	SiteID    string `json:"site_id"`
	ID        string `json:"id"`
	ProductID string `json:"product_id"`
	AuthorID  string `json:"author_id"`
	Rating    int    `json:"rating"`
	Title     string `json:"title"`
	Body      string `json:"body"`
	CreatedAt int64  `json:"created_at"` // epoch ms
}

// Key is the message's Kafka key.
func (m Message) Key() []byte { return []byte(m.SiteID + ":" + m.AuthorID) }

// PostBody is the body of POST /v1/reviews.
type PostBody struct {
	// ID is the client's idempotency key: a resend with the same id is the
	// same review. Empty: the API makes a UUID.
	ID        string `json:"id"`
	ProductID string `json:"product_id"`
	AuthorID  string `json:"author_id"`
	Rating    int    `json:"rating"`
	Title     string `json:"title"`
	Body      string `json:"body"`
}

// maxIDLength bounds ids: the review's, the product's, the author's.
const maxIDLength = 200

// check returns the reason and detail b cannot be stored, or "".
func (a *API) check(b *PostBody) (reason, detail string) {
	b.Title, b.Body = strings.TrimSpace(b.Title), strings.TrimSpace(b.Body)
	for _, f := range []struct{ name, value string }{{"id", b.ID}, {"product_id", b.ProductID}, {"author_id", b.AuthorID}} {
		if len(f.value) > maxIDLength || strings.IndexFunc(f.value, unicode.IsControl) >= 0 || !utf8.ValidString(f.value) {
			return "bad_" + f.name, fmt.Sprintf("%s must be at most %d bytes of printable UTF-8", f.name, maxIDLength)
		}
	}
	switch {
	case b.ProductID == "":
		return "missing_product_id", "product_id is required"
	case b.AuthorID == "":
		return "missing_author_id", "author_id is required: the shop's id of the reviewer"
	case b.Rating < 1 || b.Rating > 5:
		return "bad_rating", "rating must be a whole number from 1 to 5"
	case b.Body == "":
		return "missing_body", "body is required"
	case !utf8.ValidString(b.Title) || !utf8.ValidString(b.Body):
		return "bad_text", "title and body must be UTF-8"
	case utf8.RuneCountInString(b.Body) > a.cfg.MaxBody:
		return "body_too_long", fmt.Sprintf("body must be at most %d characters", a.cfg.MaxBody)
	case utf8.RuneCountInString(b.Title) > a.cfg.MaxTitle:
		return "title_too_long", fmt.Sprintf("title must be at most %d characters", a.cfg.MaxTitle)
	}
	return "", ""
}

func (a *API) refuse(c *gin.Context) func(status int, reason, detail string) {
	return func(status int, reason, detail string) {
		a.m.refused.WithLabelValues(reason).Inc()
		c.JSON(status, gin.H{"error": reason, "detail": detail})
	}
}

// post stores a review as pending and hands it to the moderator.
func (a *API) post(c *gin.Context) {
	refuse := a.refuse(c)
	site, ok := a.site(c, refuse)
	if !ok {
		return
	}
	// The body's limit leaves room for JSON escapes of the longest text.
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, int64(8*(a.cfg.MaxBody+a.cfg.MaxTitle)+4096)))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			refuse(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the request body must be at most %d bytes", tooBig.Limit))
			return
		}
		refuse(http.StatusBadRequest, "unreadable_body", err.Error())
		return
	}
	var b PostBody
	if err := json.Unmarshal(raw, &b); err != nil {
		refuse(http.StatusBadRequest, "bad_json", "the body must be a JSON object: "+err.Error())
		return
	}
	if reason, detail := a.check(&b); reason != "" {
		refuse(http.StatusBadRequest, reason, detail)
		return
	}
	if b.ID == "" {
		b.ID = uuid.Must(uuid.NewV7()).String()
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), a.cfg.Timeout)
	defer cancel()
	r, created, err := a.insert(ctx, site, b)
	if err != nil {
		a.log.Error("store review", "site", site, "err", err)
		a.m.refused.WithLabelValues("unavailable").Inc()
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "unavailable", "detail": "the review could not be stored; send it again with the same id"})
		return
	}
	if !created {
		// A resend: the review as it is now, whatever the moderator made of it.
		a.m.duplicates.Inc()
		c.JSON(http.StatusOK, r)
		return
	}
	a.m.accepted.Inc()
	a.publish(ctx, site, b, r.CreatedAt)
	c.JSON(http.StatusAccepted, r)
}

// publish hands a stored review to the moderator. A failure leaves the
// review pending in PostgreSQL, where the moderator's sweep finds it: the
// shop is answered all the same.
func (a *API) publish(ctx context.Context, site string, b PostBody, created time.Time) {
	m := Message{SiteID: site, ID: b.ID, ProductID: b.ProductID, AuthorID: b.AuthorID, Rating: b.Rating, Title: b.Title, Body: b.Body, CreatedAt: created.UnixMilli()}
	v, err := json.Marshal(m)
	if err == nil {
		err = a.pub.Publish(ctx, []kafka.Record{{Topic: a.topic, Key: m.Key(), Value: v}})
	}
	if err != nil {
		a.m.unpublished.Inc()
		a.log.Warn("publish review; the moderator's sweep will decide it", "site", site, "id", b.ID, "err", err)
	}
}

// insert stores b as pending unless the site holds a review with its id,
// and returns the review as stored and whether this call stored it.
func (a *API) insert(ctx context.Context, site string, b PostBody) (Review, bool, error) {
	rows, err := a.pool.Query(ctx, `
		INSERT INTO reviews (site_id, id, product_id, author_id, rating, title, body)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (site_id, id) DO NOTHING
		RETURNING `+reviewColumns, site, b.ID, b.ProductID, b.AuthorID, b.Rating, b.Title, b.Body)
	if err != nil {
		return Review{}, false, fmt.Errorf("insert review: %w", err)
	}
	r, err := pgx.CollectExactlyOneRow(rows, scanReview)
	if err == nil {
		return r, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Review{}, false, fmt.Errorf("insert review: %w", err)
	}
	rows, err = a.pool.Query(ctx, `SELECT `+reviewColumns+` FROM reviews WHERE site_id = $1 AND id = $2`, site, b.ID)
	if err != nil {
		return Review{}, false, fmt.Errorf("read review %s: %w", b.ID, err)
	}
	r, err = pgx.CollectExactlyOneRow(rows, scanReview)
	if err != nil {
		return Review{}, false, fmt.Errorf("read review %s: %w", b.ID, err)
	}
	return r, false, nil
}
