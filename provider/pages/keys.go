package pages

// MessageKey names a catalogue text a handler shows: the body of the
// error page, a notice above a form, or a field error. A named type with
// constants, so a misspelt key fails to compile instead of showing the
// key itself to a guest; every constant has a text in every built-in
// language (TestMessageKeysTranslated). Templates name their own fixed
// texts (titles, labels) with plain strings.
type MessageKey string

// Field errors.
const (
	MsgEmailInvalid  MessageKey = "email_invalid"
	MsgEmailRequired MessageKey = "email_required"
	MsgCodeInvalid   MessageKey = "code_invalid"
	MsgCodeFormat    MessageKey = "code_format"
	MsgLocked        MessageKey = "locked"
	// MsgPasswordLocked: the password page's answer over the failure
	// budget, the same for known and unknown accounts.
	MsgPasswordLocked   MessageKey = "password_locked"
	MsgPasswordInvalid  MessageKey = "password_invalid"
	MsgPasswordRequired MessageKey = "password_required"
)

// Notices on the passcode pages.
const (
	MsgCooldown         MessageKey = "cooldown"
	MsgTooManyCodes     MessageKey = "too_many_codes"
	MsgTooManyAddresses MessageKey = "too_many_addresses"
	MsgTooManyRequests  MessageKey = "too_many_requests"
	MsgMailUnavailable  MessageKey = "mail_unavailable"
	MsgSignedOut        MessageKey = "signed_out"
	// MsgTooManySignIns: /authorize over its limit per client IP.
	MsgTooManySignIns MessageKey = "too_many_sign_ins"
)

// Error pages. Each has a "<key>_title" text too.
const (
	MsgNoMethod    MessageKey = "no_method"
	MsgOTPDisabled MessageKey = "otp_disabled"
	// MsgInvitationInvalid: a redeem link that is unknown, used, expired
	// or superseded (one message: no enumeration).
	MsgInvitationInvalid MessageKey = "invitation_invalid"
	// MsgInvitationOtherUser: the person signed in as another address
	// than the invited one.
	MsgInvitationOtherUser MessageKey = "invitation_other_user"
	MsgUnavailable         MessageKey = "unavailable"
	MsgUnknownTenant       MessageKey = "unknown_tenant"
	MsgNoTenant            MessageKey = "no_tenant"
	MsgInvalidRequest      MessageKey = "invalid_request"
	MsgInvalidLink         MessageKey = "invalid_link"
	MsgExpiredRequest      MessageKey = "expired_request"
	MsgCSRF                MessageKey = "csrf"
	MsgUpstreamMismatch    MessageKey = "upstream_mismatch"
	MsgUpstreamUnverified  MessageKey = "upstream_unverified"
	// The three ways a connector's backend can fail; {name} is the
	// connector's display name (Connector.Name).
	MsgUpstreamUnreachable MessageKey = "upstream_unreachable"
	MsgUpstreamDenied      MessageKey = "upstream_denied"
	MsgUpstreamBadResponse MessageKey = "upstream_bad_response"
	// MsgUpstreamSubject: the upstream account is not the one this guest
	// signed in with before (a recycled address).
	MsgUpstreamSubject MessageKey = "upstream_subject"
	MsgNotFound        MessageKey = "not_found"
	MsgServerError     MessageKey = "server_error"
)
