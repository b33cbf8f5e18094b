package collector

// Suppressor says whether a visitor was forgotten (privacy.Suppressions,
// docs/privacy.md): their later events are accepted and dropped. The
// answer is 2xx, as for any stored event, so that a beacon does not send
// them again and again; footfall_collector_events_suppressed_total counts
// them. Until the set has read its topic it suppresses nothing, and the
// collector's readiness does not wait for it (a collector takes events
// into its spool while Kafka is away): the loader and the enricher, which
// wait, drop what slips through.
type Suppressor interface {
	Suppressed(site, anonymousID, userID string) bool
}

// suppressed reports, and counts, an event of a forgotten visitor.
func (c *Collector) suppressed(site, anonymousID, userID string) bool {
	if c.deps.Suppressions == nil || !c.deps.Suppressions.Suppressed(site, anonymousID, userID) {
		return false
	}
	c.m.suppressed.Inc()
	return true
}
