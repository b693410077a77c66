package pages

// render is renderTo into a buffer of its own: the page with d and nonce
// from the cache, or cached false when the page or d is not for it.
func (c *pageCache) render(r *Renderer, page string, d Data, nonce string) (body []byte, cached bool, err error) {
	var rb renderBuf
	cached, err = c.renderTo(&rb, r, page, &d, nonce)
	return rb.body.Bytes(), cached, err
}
