package featurestore

// KnownViews is how many feature views c remembers (for the MaxPlans test).
func KnownViews(c *Client) int {
	c.viewMu.Lock()
	defer c.viewMu.Unlock()
	return len(c.views)
}
