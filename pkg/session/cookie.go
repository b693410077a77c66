package session

import "net/http"

// ClearCookie removes the session cookie of tenant from the browser
// (logout, once the logout request has been validated).
func (m *Manager) ClearCookie(w http.ResponseWriter, tenant string) {
	setCookie(w, CookieName, "", tenant, -1, m.secure)
}

// setCookie sets one of our cookies: per tenant (Path=/{tenant}), never
// readable by scripts, sent on top-level navigations only (Lax), Secure
// when the base URL is https. maxAge < 0 deletes it.
func setCookie(w http.ResponseWriter, name, value, tenant string, maxAge int, secure bool) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     cookiePath(tenant),
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	})
}
