package session

import "net/http"

// ClearCookie removes the session cookie of tenant from the browser
// (logout, once the logout request has been validated).
func (m *Manager) ClearCookie(w http.ResponseWriter, tenant string) {
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    "",
		Path:     cookiePath(tenant),
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   m.secure,
		SameSite: http.SameSiteLaxMode,
	})
}
