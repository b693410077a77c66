package pages

import "strings"

// maxUILocales bounds the work done on an app's ui_locales.
const maxUILocales = 16

// NegotiateUI picks the page language for a sign-in: the first of the
// app's ui_locales (OpenID Connect Core §3.1.2.1, BCP47 tags in order of
// preference) this Renderer speaks, else the browser's Accept-Language.
// The app knows which language its user chose in the app; the browser
// only knows the system's.
func (r *Renderer) NegotiateUI(uiLocales []string, acceptLanguage string) string {
	if l := r.UILanguage(uiLocales); l != "" {
		return l
	}
	return r.Negotiate(acceptLanguage)
}

// UILanguage is the first of uiLocales this Renderer speaks, or "".
func (r *Renderer) UILanguage(uiLocales []string) string {
	for i, tag := range uiLocales {
		if i >= maxUILocales {
			break
		}
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		primary, _, _ = strings.Cut(primary, "_")
		if _, ok := r.cat[primary]; ok && isLangSubtag(primary) && primary != "*" {
			return primary
		}
	}
	return ""
}
