package reviews

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
)

// Review statuses.
const (
	Pending  = "pending"
	Approved = "approved"
	Rejected = "rejected"
)

// Review is a review as the API answers it. Rule and Reason say why a
// rejected review was rejected; only its author is shown it.
type Review struct {
	ID        string     `json:"id"`
	ProductID string     `json:"product_id"`
	AuthorID  string     `json:"author_id"`
	Rating    int        `json:"rating"`
	Title     string     `json:"title"`
	Body      string     `json:"body"`
	CreatedAt time.Time  `json:"created_at"`
	Status    string     `json:"status"`
	Rule      string     `json:"rule,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	DecidedAt *time.Time `json:"decided_at,omitempty"`
}

// Response is the body of GET /v1/reviews.
type Response struct {
	Site    string `json:"site"`
	Product string `json:"product"`
	// Reviews are the product's approved reviews, newest first: what
	// every shopper sees.
	Reviews []Review `json:"reviews"`
	// Viewer's are the viewer's own reviews of the product that are not
	// approved (pending, or rejected with the reason), newest first:
	// shown to the viewer only.
	Viewer        string   `json:"viewer,omitempty"`
	ViewerReviews []Review `json:"viewer_reviews"`
}

const reviewColumns = `id, product_id, author_id, rating, title, body, created_at, status, decided_by_rule, reason, decided_at`

func scanReview(row pgx.CollectableRow) (Review, error) {
	var r Review
	var rating int16
	err := row.Scan(&r.ID, &r.ProductID, &r.AuthorID, &rating, &r.Title, &r.Body, &r.CreatedAt, &r.Status, &r.Rule, &r.Reason, &r.DecidedAt)
	r.Rating = int(rating)
	return r, err
}

// get answers a product page: its approved reviews, and the viewer's own
// that are not approved yet or never will be.
func (a *API) get(c *gin.Context) {
	refuse := a.refuse(c)
	site, ok := a.site(c, refuse)
	if !ok {
		return
	}
	c.Header("Cache-Control", "no-store") // the viewer's part is theirs alone
	product, viewer := c.Query("product"), c.Query("viewer")
	if product == "" {
		refuse(http.StatusBadRequest, "missing_product", "product is required")
		return
	}
	limit := a.cfg.DefaultLimit
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > a.cfg.MaxLimit {
			refuse(http.StatusBadRequest, "bad_limit", "limit must be 1.."+strconv.Itoa(a.cfg.MaxLimit))
			return
		}
		limit = n
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), a.cfg.Timeout)
	defer cancel()
	resp, err := a.read(ctx, site, product, viewer, limit)
	if err != nil {
		a.m.reads.WithLabelValues("error").Inc()
		a.log.Error("read reviews", "site", site, "err", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "unavailable"})
		return
	}
	a.m.reads.WithLabelValues("ok").Inc()
	c.JSON(http.StatusOK, resp)
}

func (a *API) read(ctx context.Context, site, product, viewer string, limit int) (Response, error) {
	resp := Response{Site: site, Product: product, Viewer: viewer, Reviews: []Review{}, ViewerReviews: []Review{}}
	rows, err := a.pool.Query(ctx, `
		SELECT `+reviewColumns+` FROM reviews
		WHERE site_id = $1 AND product_id = $2 AND status = 'approved'
		ORDER BY created_at DESC, id LIMIT $3`, site, product, limit)
	if err != nil {
		return resp, fmt.Errorf("read approved reviews: %w", err)
	}
	if resp.Reviews, err = pgx.CollectRows(rows, scanReview); err != nil {
		return resp, fmt.Errorf("read approved reviews: %w", err)
	}
	for i := range resp.Reviews {
		resp.Reviews[i].Rule, resp.Reviews[i].Reason = "", ""
	}
	if viewer == "" {
		return resp, nil
	}
	rows, err = a.pool.Query(ctx, `
		SELECT `+reviewColumns+` FROM reviews
		WHERE site_id = $1 AND author_id = $2 AND product_id = $3 AND status <> 'approved'
		ORDER BY created_at DESC, id LIMIT $4`, site, viewer, product, a.cfg.MaxLimit)
	if err != nil {
		return resp, fmt.Errorf("read the viewer's reviews: %w", err)
	}
	if resp.ViewerReviews, err = pgx.CollectRows(rows, scanReview); err != nil {
		return resp, fmt.Errorf("read the viewer's reviews: %w", err)
	}
	return resp, nil
}
