package pages

// abuseLimitMessages are the texts of the limits beyond one address and of
// a full mail queue (PRODUCT.md B8). They say what happened and what to do
// without saying anything about the address (no enumeration).
func abuseLimitMessages() catalog {
	return catalog{
		"en": {
			"too_many_addresses_title": "Too many addresses",
			"too_many_requests_title":  "Too many codes",
			"mail_unavailable_title":   "Code not sent",
			"too_many_sign_ins_title":  "Too many sign-ins",

			"too_many_addresses": "Codes were requested for too many different addresses in this sign-in. Try again later.",
			"too_many_requests":  "Too many codes were requested. Try again later.",
			"mail_unavailable":   "We couldn't send the code right now. No email is on its way. Please try again in a few minutes.",
			"too_many_sign_ins":  "Too many sign-ins were started from your network. Wait a minute, then open the app's sign-in link again.",
		},
		"fr": {
			"too_many_addresses_title": "Trop d'adresses",
			"too_many_requests_title":  "Trop de codes",
			"mail_unavailable_title":   "Code non envoyé",
			"too_many_sign_ins_title":  "Trop de connexions",

			"too_many_addresses": "Des codes ont été demandés pour trop d'adresses différentes lors de cette connexion. Réessayez plus tard.",
			"too_many_requests":  "Trop de codes ont été demandés. Réessayez plus tard.",
			"mail_unavailable":   "Nous n'avons pas pu envoyer le code pour le moment. Aucun e-mail n'est en route. Réessayez dans quelques minutes.",
			"too_many_sign_ins":  "Trop de connexions ont été commencées depuis votre réseau. Attendez une minute, puis rouvrez le lien de connexion de l'application.",
		},
	}
}
