package pages

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// defaultLang is what a guest gets when Accept-Language names nothing we have.
const defaultLang = "en"

// maxLangRanges bounds the work done on a hostile Accept-Language header.
const maxLangRanges = 32

// catalog maps language → message key → text. Texts use named placeholders
// ("{tenant}") rather than fmt verbs so translators can reorder words freely
// and a missing value shows as the placeholder instead of "%!s(MISSING)".
type catalog map[string]map[string]string

// builtinCatalog returns a fresh copy of the shipped messages on every call,
// so a Renderer can merge an admin's overrides without touching shared state.
func builtinCatalog() catalog {
	c := catalog{
		"en": {
			// Shared chrome.
			"error_prefix":  "Error:",
			"error_summary": "There is a problem",
			"logo_alt":      "{tenant} logo",
			"home":          "Go to the home page",
			"back_to_app":   "Back to {app}",

			// email page.
			"email_title":       "Sign in to {tenant}",
			"email_intro_app":   "to continue to {app}",
			"email_label":       "Email address",
			"email_hint":        "Enter the email address you use for {tenant}.",
			"next":              "Next",
			"use_another_email": "Use another email",

			// send page.
			"send_title":  "We'll send a code to {email}",
			"send_intro":  "Select Send code and we will email you a one-time passcode to sign in.",
			"send_button": "Send code",

			// code page.
			"code_title":  "Enter code",
			"code_sent":   "We sent a code to {email}. It is valid for {minutes} minutes.",
			"code_label":  "Code",
			"code_hint":   "The code has 8 digits. Check your spam folder if you can't find the email.",
			"verify":      "Verify",
			"resend":      "Resend code",
			"code_resent": "We sent a new code to {email}. Earlier codes no longer work.",

			// password page.
			"password_title":    "Enter password",
			"password_label":    "Password",
			"username_label":    "Email address",
			"sign_in":           "Sign in",
			"password_invalid":  "That email address and password don't match. Try again.",
			"password_required": "Enter your password.",

			// signedout and apps pages.
			"signedout_title": "You have signed out",
			"signed_out":      "You have signed out. You can close this window.",
			"apps_title":      "Apps of {tenant}",
			"apps_intro":      "Choose an app to open.",
			"apps_empty":      "No apps are available.",

			// logout confirmation page.
			"logout_title":  "Sign out of {tenant}?",
			"logout_intro":  "An app asked to sign you out. Select Sign out to sign out of {tenant} in this browser.",
			"logout_button": "Sign out",

			// error page titles ("<key>_title"); error_title is the fallback.
			"error_title":                 "We couldn't sign you in",
			"invalid_link_title":          "This link doesn't work",
			"no_method_title":             "No sign-in method",
			"otp_disabled_title":          "Passcode sign-in is turned off",
			"invitation_invalid_title":    "This invitation link can't be used",
			"invitation_other_user_title": "Signed in with another address",
			"locked_title":                "Too many attempts",
			"too_many_codes_title":        "Too many codes",
			"unavailable_title":           "Service unavailable",
			"unknown_tenant_title":        "Organisation not found",
			"no_tenant_title":             "Organisation missing from the link",
			"invalid_request_title":       "Invalid sign-in request",
			"expired_request_title":       "Sign-in request expired",
			"csrf_title":                  "Page expired",
			"upstream_mismatch_title":     "Wrong account",
			"upstream_failed_title":       "Sign-in with your account failed",
			"upstream_unverified_title":   "Address not verified",
			"upstream_unreachable_title":  "Sign-in service unavailable",
			"upstream_denied_title":       "Sign-in cancelled",
			"upstream_bad_response_title": "Sign-in failed",
			"upstream_subject_title":      "Wrong account",
			"not_found_title":             "Page not found",
			"server_error_title":          "Something went wrong",

			// Messages (field errors, notices and error pages).
			"email_invalid":         "Enter a valid email address, like name@example.com.",
			"email_required":        "Enter your email address.",
			"code_invalid":          "That code didn't work. Check the code and try again, or request a new code.",
			"code_format":           "Enter the 8-digit code from the email.",
			"locked":                "Too many wrong codes. Try again later.",
			"too_many_codes":        "Too many codes were requested for this address. Try again later.",
			"cooldown":              "A code was sent a moment ago. Wait {retryAfter} seconds before requesting another one.",
			"no_method":             "No sign-in method is available for this address. Contact the administrator of {tenant}.",
			"invitation_invalid":    "This invitation link has already been used, has expired or was replaced by a newer one. If you have already accepted the invitation, sign in from the app. Otherwise ask the administrator of {tenant} for a new invitation.",
			"invitation_other_user": "You signed in with another address than the one this invitation was sent to. Open the link again and sign in with the invited address.",
			"otp_disabled":          "Sign-in with a one-time passcode is turned off for {tenant}. Ask the administrator to turn it back on or to reset your account so you can use another method.",
			"unavailable":           "The service is temporarily unavailable. Please try again in a minute.",
			"unknown_tenant":        "We don't know this organisation. Check the sign-in link, or ask the app's administrator for the correct one.",
			"no_tenant":             "This sign-in link doesn't say which organisation you're signing in to. Ask for a link of the form {example}.",
			"invalid_request":       "This sign-in request isn't valid. Go back to the app and start again.",
			"invalid_link":          "This link isn't valid or has already been used. Ask the person who invited you for a new invitation.",
			"expired_request":       "This sign-in request has expired. Go back to the app and start again.",
			"csrf":                  "Your session for this page has expired. Go back and try again.",
			"upstream_mismatch":     "The account you signed in with doesn't match {email}. Sign in with that address, or use another email.",
			"upstream_failed":       "We couldn't complete sign-in with your account provider. Go back to the app and try again.",
			"upstream_unverified":   "Your account provider hasn't verified {email}. Verify the address there, or use another email.",
			"upstream_unreachable":  "We couldn't reach {name}. Try again.",
			"upstream_denied":       "Sign-in with {name} was cancelled or refused.",
			"upstream_bad_response": "{name} answered something we couldn't use. Try again, or contact the administrator of {tenant}.",
			"upstream_subject":      "This {name} account isn't the one {email} signed in with before. Contact the administrator of {tenant}.",
			"password_locked":       "Too many sign-in attempts for this address. Try again later.",
			"retry":                 "Try again",
			"not_found":             "This page doesn't exist.",
			"server_error":          "Something went wrong on our side. Please try again.",
		},
		"fr": {
			"error_prefix":  "Erreur :",
			"error_summary": "Un problème est survenu",
			"logo_alt":      "Logo de {tenant}",
			"home":          "Aller à la page d'accueil",
			"back_to_app":   "Retour à {app}",

			"email_title":       "Se connecter à {tenant}",
			"email_intro_app":   "pour accéder à {app}",
			"email_label":       "Adresse e-mail",
			"email_hint":        "Saisissez l'adresse e-mail que vous utilisez pour {tenant}.",
			"next":              "Suivant",
			"use_another_email": "Utiliser une autre adresse e-mail",

			"send_title":  "Nous allons envoyer un code à {email}",
			"send_intro":  "Sélectionnez Envoyer le code et nous vous enverrons par e-mail un code à usage unique pour vous connecter.",
			"send_button": "Envoyer le code",

			"code_title":  "Saisir le code",
			"code_sent":   "Nous avons envoyé un code à {email}. Il est valable {minutes} minutes.",
			"code_label":  "Code",
			"code_hint":   "Le code comporte 8 chiffres. Consultez votre dossier de courrier indésirable si vous ne trouvez pas l'e-mail.",
			"verify":      "Vérifier",
			"resend":      "Renvoyer le code",
			"code_resent": "Nous avons envoyé un nouveau code à {email}. Les codes précédents ne fonctionnent plus.",

			"password_title":    "Saisir le mot de passe",
			"password_label":    "Mot de passe",
			"username_label":    "Adresse e-mail",
			"sign_in":           "Se connecter",
			"password_invalid":  "L'adresse e-mail et le mot de passe ne correspondent pas. Réessayez.",
			"password_required": "Saisissez votre mot de passe.",

			"signedout_title": "Vous êtes déconnecté",
			"signed_out":      "Vous vous êtes déconnecté. Vous pouvez fermer cette fenêtre.",
			"apps_title":      "Applications de {tenant}",
			"apps_intro":      "Choisissez une application à ouvrir.",
			"apps_empty":      "Aucune application n'est disponible.",

			"logout_title":  "Se déconnecter de {tenant} ?",
			"logout_intro":  "Une application a demandé votre déconnexion. Sélectionnez Se déconnecter pour vous déconnecter de {tenant} dans ce navigateur.",
			"logout_button": "Se déconnecter",

			"error_title":                 "Connexion impossible",
			"invalid_link_title":          "Ce lien ne fonctionne pas",
			"no_method_title":             "Aucune méthode de connexion",
			"otp_disabled_title":          "La connexion par code est désactivée",
			"invitation_invalid_title":    "Ce lien d'invitation ne peut pas être utilisé",
			"invitation_other_user_title": "Connecté avec une autre adresse",
			"locked_title":                "Trop de tentatives",
			"too_many_codes_title":        "Trop de codes",
			"unavailable_title":           "Service indisponible",
			"unknown_tenant_title":        "Organisation introuvable",
			"no_tenant_title":             "Organisation absente du lien",
			"invalid_request_title":       "Demande de connexion non valide",
			"expired_request_title":       "Demande de connexion expirée",
			"csrf_title":                  "Page expirée",
			"upstream_mismatch_title":     "Mauvais compte",
			"upstream_failed_title":       "La connexion avec votre compte a échoué",
			"upstream_unverified_title":   "Adresse non vérifiée",
			"upstream_unreachable_title":  "Service de connexion indisponible",
			"upstream_denied_title":       "Connexion annulée",
			"upstream_bad_response_title": "Échec de la connexion",
			"upstream_subject_title":      "Mauvais compte",
			"not_found_title":             "Page introuvable",
			"server_error_title":          "Une erreur s'est produite",

			"email_invalid":         "Saisissez une adresse e-mail valide, par exemple nom@exemple.com.",
			"email_required":        "Saisissez votre adresse e-mail.",
			"code_invalid":          "Ce code n'a pas fonctionné. Vérifiez le code et réessayez, ou demandez un nouveau code.",
			"code_format":           "Saisissez le code à 8 chiffres reçu par e-mail.",
			"locked":                "Trop de codes erronés. Réessayez plus tard.",
			"too_many_codes":        "Trop de codes ont été demandés pour cette adresse. Réessayez plus tard.",
			"cooldown":              "Un code vient d'être envoyé. Attendez {retryAfter} secondes avant d'en demander un autre.",
			"no_method":             "Aucune méthode de connexion n'est disponible pour cette adresse. Contactez l'administrateur de {tenant}.",
			"invitation_invalid":    "Ce lien d'invitation a déjà été utilisé, a expiré ou a été remplacé par un plus récent. Si vous avez déjà accepté l'invitation, connectez-vous depuis l'application. Sinon, demandez une nouvelle invitation à l'administrateur de {tenant}.",
			"invitation_other_user": "Vous vous êtes connecté avec une autre adresse que celle à laquelle cette invitation a été envoyée. Ouvrez à nouveau le lien et connectez-vous avec l'adresse invitée.",
			"otp_disabled":          "La connexion par code à usage unique est désactivée pour {tenant}. Demandez à l'administrateur de la réactiver ou de réinitialiser votre compte afin que vous puissiez utiliser une autre méthode.",
			"unavailable":           "Le service est temporairement indisponible. Réessayez dans une minute.",
			"unknown_tenant":        "Nous ne connaissons pas cette organisation. Vérifiez le lien de connexion ou demandez le bon lien à l'administrateur de l'application.",
			"no_tenant":             "Ce lien de connexion n'indique pas l'organisation à laquelle vous vous connectez. Demandez un lien de la forme {example}.",
			"invalid_request":       "Cette demande de connexion n'est pas valide. Revenez à l'application et recommencez.",
			"invalid_link":          "Ce lien n'est pas valide ou a déjà été utilisé. Demandez une nouvelle invitation à la personne qui vous a invité.",
			"expired_request":       "Cette demande de connexion a expiré. Revenez à l'application et recommencez.",
			"csrf":                  "Votre session pour cette page a expiré. Revenez en arrière et réessayez.",
			"upstream_mismatch":     "Le compte avec lequel vous vous êtes connecté ne correspond pas à {email}. Connectez-vous avec cette adresse ou utilisez une autre adresse e-mail.",
			"upstream_failed":       "Nous n'avons pas pu terminer la connexion avec votre fournisseur de compte. Revenez à l'application et réessayez.",
			"upstream_unverified":   "Votre fournisseur de compte n'a pas vérifié {email}. Vérifiez l'adresse chez lui ou utilisez une autre adresse e-mail.",
			"upstream_unreachable":  "Nous n'avons pas pu joindre {name}. Réessayez.",
			"upstream_denied":       "La connexion avec {name} a été annulée ou refusée.",
			"upstream_bad_response": "{name} a répondu quelque chose que nous ne pouvons pas utiliser. Réessayez ou contactez l'administrateur de {tenant}.",
			"upstream_subject":      "Ce compte {name} n'est pas celui avec lequel {email} s'est connecté auparavant. Contactez l'administrateur de {tenant}.",
			"password_locked":       "Trop de tentatives de connexion pour cette adresse. Réessayez plus tard.",
			"retry":                 "Réessayer",
			"not_found":             "Cette page n'existe pas.",
			"server_error":          "Une erreur s'est produite de notre côté. Veuillez réessayer.",
		},
	}
	for lang, msgs := range abuseLimitMessages() {
		for k, v := range msgs {
			c[lang][k] = v
		}
	}
	return c
}

// langPref is one acceptable range of an Accept-Language header.
type langPref struct {
	lang string
	q    float64
}

// languages is the acceptable ranges of an Accept-Language header with
// their q-values: primary language subtags, lowercased, best first
// (q=0 and malformed entries dropped, ties kept in header order, "*"
// kept as "*"), in buf (the header has at most maxLangRanges ranges
// read), so that Negotiate, on every page, allocates nothing. The sort is
// the stable sort the earlier parser did (the same algorithm as
// sort.SliceStable, deciding on "less" alone), so even a q that compares
// with nothing (NaN) orders the list as before.
func languages(header string, buf *[maxLangRanges]langPref) []langPref {
	prefs := buf[:0]
	eachLanguage(header, func(lang string, q float64) { prefs = append(prefs, langPref{lang, q}) })
	slices.SortStableFunc(prefs, func(a, b langPref) int {
		if a.q > b.q {
			return -1
		}
		return 0
	})
	return prefs
}

// eachLanguage calls f with every acceptable range of an Accept-Language
// header in header order: its primary subtag, lowercased, and its q-value
// (what languages ranks). It walks the header in place, with no
// allocation but a lowercased copy of a subtag that has capitals: Render
// negotiates on every page.
func eachLanguage(header string, f func(lang string, q float64)) {
	rest := header
	for i := 0; ; i++ {
		if i >= maxLangRanges {
			return
		}
		part, after, more := strings.Cut(rest, ",")
		rest = after
		tag, params, _ := strings.Cut(part, ";")
		if tag = strings.TrimSpace(tag); tag != "" {
			if q, ok := qValue(params); ok && q != 0 {
				primary, _, _ := strings.Cut(tag, "-")
				primary, _, _ = strings.Cut(primary, "_") // tolerate "fr_CA" from sloppy clients
				// Lowercasing the subtag alone is lowercasing the tag and
				// then cutting it: no rune lowers to '-' or '_'.
				if primary = strings.ToLower(primary); isLangSubtag(primary) {
					f(primary, q)
				}
			}
		}
		if !more {
			return
		}
	}
}

// qValue reads the q of a language range's parameters (";"-separated,
// after the tag): 1 when absent, ok false when malformed or out of range.
func qValue(params string) (q float64, ok bool) {
	q = 1.0
	for rest, more := params, params != ""; more; {
		var p string
		p, rest, more = strings.Cut(rest, ";")
		k, v, found := strings.Cut(strings.TrimSpace(p), "=")
		if !found || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || f > 1 {
			return 0, false
		}
		q = f
	}
	return q, true
}

func isLangSubtag(s string) bool {
	if s == "*" {
		return true
	}
	if len(s) == 0 || len(s) > 8 {
		return false
	}
	for _, c := range s {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// Negotiate picks the language for a request's Accept-Language header among
// the languages this Renderer has; "en" when nothing matches.
func (r *Renderer) Negotiate(acceptLanguage string) string {
	var buf [maxLangRanges]langPref
	for _, p := range languages(acceptLanguage, &buf) {
		if p.lang == "*" {
			return defaultLang
		}
		if _, ok := r.cat[p.lang]; ok {
			return p.lang
		}
	}
	return defaultLang
}

// Languages lists the languages this Renderer can speak, sorted.
func (r *Renderer) Languages() []string {
	out := make([]string, 0, len(r.cat))
	for l := range r.cat {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// T translates key into lang, falling back to English and then to the key
// itself (so a missing translation is visible, never a blank).
//
// args fill the message's placeholders, either as name/value pairs in the
// style of slog ("tenant", "Fabrikam", "retryAfter", 60; names are the
// placeholders of the catalogue: tenant, email, app, minutes, retryAfter,
// example) or, when they are not pairs of that shape, positionally in the
// order the placeholders first appear in the message (T(lang, "cooldown", 60)). Values are plain text: the
// pages escape them, JSON encoders quote them.
func (r *Renderer) T(lang, key string, args ...any) string {
	msg := r.lookup(lang, key)
	return fill(msg, r.argsToVars(msg, args), nil)
}

func (r *Renderer) lookup(lang, key string) string {
	if m, ok := r.cat[lang]; ok {
		if s, ok := m[key]; ok {
			return s
		}
	}
	if s, ok := r.cat[defaultLang][key]; ok {
		return s
	}
	return key
}

// placeholders returns the names of "{name}" placeholders in msg, in order of
// first appearance.
func placeholders(msg string) []string {
	var names []string
	seen := map[string]bool{}
	for rest := msg; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			return names
		}
		rest = rest[i+1:]
		j := strings.IndexByte(rest, '}')
		if j < 0 {
			return names
		}
		name := rest[:j]
		if isPlaceholderName(name) {
			if !seen[name] {
				seen[name] = true
				names = append(names, name)
			}
			rest = rest[j+1:]
		}
	}
}

func isPlaceholderName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// argsToVars interprets args as name/value pairs when they have that shape
// (even count, every name a placeholder some message of the catalogue uses)
// and positionally otherwise. Deciding by the catalogue rather than by msg
// means pairs meant for another message are ignored, never misread as
// positional values.
func (r *Renderer) argsToVars(msg string, args []any) map[string]string {
	if len(args) == 0 {
		return nil
	}
	vars := map[string]string{}
	if len(args)%2 == 0 {
		pairs := true
		for i := 0; i < len(args); i += 2 {
			name, ok := args[i].(string)
			if !ok || !r.names[name] {
				pairs = false
				break
			}
		}
		if pairs {
			for i := 0; i < len(args); i += 2 {
				vars[args[i].(string)] = fmt.Sprint(args[i+1])
			}
			return vars
		}
	}
	for i, n := range placeholders(msg) {
		if i < len(args) {
			vars[n] = fmt.Sprint(args[i])
		}
	}
	return vars
}

// placeholderNames collects every placeholder used anywhere in cat.
func placeholderNames(cat catalog) map[string]bool {
	names := map[string]bool{}
	for _, m := range cat {
		for _, s := range m {
			for _, n := range placeholders(s) {
				names[n] = true
			}
		}
	}
	return names
}

// fill replaces "{name}" by vars[name], else defaults[name]; unknown
// placeholders stay as they are. Replacement values are never re-scanned, so
// a value containing "{email}" cannot pull in other data.
func fill(msg string, vars, defaults map[string]string) string {
	if !strings.Contains(msg, "{") {
		return msg
	}
	var b strings.Builder
	rest := msg
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(rest)
			return b.String()
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			b.WriteString(rest)
			return b.String()
		}
		name := rest[i+1 : i+j]
		v, ok := vars[name]
		if !ok {
			v, ok = defaults[name]
		}
		if !ok || !isPlaceholderName(name) {
			b.WriteString(rest[:i+1])
			rest = rest[i+1:]
			continue
		}
		b.WriteString(rest[:i])
		b.WriteString(v)
		rest = rest[i+j+1:]
	}
}
