package moderator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// classifier asks a site's external classifier (its rule set's
// classifier_url) about a review that passed every local rule:
//
//	POST classifier_url  {"text": "<title>\n<body>"}
//	200                  {"flagged": true|false, "reason": "…"}
//
// Anything else (a timeout, a 5xx, a body that is not that JSON) is an
// error, never an approval: the moderator retries the batch, and
// consumption pauses meanwhile, as it does while PostgreSQL is down.
type classifier struct {
	client *http.Client
	calls  *prometheus.CounterVec
}

func newClassifier(timeout time.Duration, calls *prometheus.CounterVec) *classifier {
	return &classifier{client: &http.Client{Timeout: timeout}, calls: calls}
}

// errClassifier marks a classifier that did not answer usably.
var errClassifier = errors.New("classifier failed")

// verdict is the classifier's answer.
type verdict struct {
	Flagged *bool  `json:"flagged"`
	Reason  string `json:"reason"`
}

func (c *classifier) ask(ctx context.Context, url, text string) (flagged bool, reason string, err error) {
	defer func() {
		outcome := "clean"
		switch {
		case err != nil:
			outcome = "error"
		case flagged:
			outcome = "flagged"
		}
		c.calls.WithLabelValues(outcome).Inc()
	}()
	body, err := json.Marshal(map[string]string{"text": text})
	if err != nil {
		return false, "", fmt.Errorf("%w: encode request: %w", errClassifier, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false, "", fmt.Errorf("%w: %w", errClassifier, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return false, "", fmt.Errorf("%w: %w", errClassifier, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return false, "", fmt.Errorf("%w: read answer: %w", errClassifier, err)
	}
	if resp.StatusCode != http.StatusOK {
		return false, "", fmt.Errorf("%w: %s answered %s", errClassifier, url, resp.Status)
	}
	var v verdict
	if err := json.Unmarshal(raw, &v); err != nil || v.Flagged == nil {
		return false, "", fmt.Errorf("%w: %s answered no {\"flagged\": bool}", errClassifier, url)
	}
	return *v.Flagged, v.Reason, nil
}
