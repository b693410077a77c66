package config

import "strings"

// Tenant returns the tenant with this id, or nil. Ids are exact (they are
// lowercase by validation), so no folding happens here.
func (c *Config) Tenant(id string) *Tenant {
	if c == nil {
		return nil
	}
	if c.tenantsByID != nil {
		return c.tenantsByID[id]
	}
	// A Config built by hand (tests) has no index; scan instead.
	for i := range c.Tenants {
		if c.Tenants[i].ID == id {
			return &c.Tenants[i]
		}
	}
	return nil
}

// TenantByDomain returns the tenant that verified this domain, or nil.
// Matching is case-insensitive and ignores one trailing dot, because DNS
// names are.
func (c *Config) TenantByDomain(domain string) *Tenant {
	if c == nil {
		return nil
	}
	d := strings.TrimSuffix(strings.ToLower(domain), ".")
	if d == "" {
		return nil
	}
	if c.tenantsByDomain != nil {
		return c.tenantsByDomain[d]
	}
	for i := range c.Tenants {
		for _, td := range c.Tenants[i].Domains {
			if strings.ToLower(td) == d {
				return &c.Tenants[i]
			}
		}
	}
	return nil
}

// Client returns the tenant's client with this id, or nil.
func (t *Tenant) Client(id string) *Client {
	if t == nil {
		return nil
	}
	if t.clientsByID != nil {
		return t.clientsByID[id]
	}
	for i := range t.Clients {
		if t.Clients[i].ID == id {
			return &t.Clients[i]
		}
	}
	return nil
}

// Issuer is the tenant's OpenID issuer: {baseURL}/{id}, no trailing slash
// (PRODUCT.md B1).
func (t *Tenant) Issuer(baseURL string) string {
	return strings.TrimRight(baseURL, "/") + "/" + t.ID
}

// buildIndex fills the lookup maps. Pointers refer to the elements of
// c.Tenants and t.Clients, so the slices must not be reallocated afterwards.
func (c *Config) buildIndex() {
	c.tenantsByID = make(map[string]*Tenant, len(c.Tenants))
	c.tenantsByDomain = make(map[string]*Tenant)
	for i := range c.Tenants {
		t := &c.Tenants[i]
		c.tenantsByID[t.ID] = t
		for _, d := range t.Domains {
			c.tenantsByDomain[strings.ToLower(d)] = t
		}
		t.clientsByID = make(map[string]*Client, len(t.Clients))
		for j := range t.Clients {
			t.clientsByID[t.Clients[j].ID] = &t.Clients[j]
		}
	}
}
