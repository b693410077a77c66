package admin

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/guestpass/guestpass/pkg/canon"
	"github.com/guestpass/guestpass/pkg/guests"
	"github.com/guestpass/guestpass/pkg/jsonhttp"
	"github.com/guestpass/guestpass/pkg/mail"
)

// Paging bounds of GET /guests.
const (
	defaultPageSize = 50
	maxRedirectURL  = 2048
	maxDisplayName  = 256
)

// The languages an invitation mail can be written in; the guest's own
// language is unknown when an admin invites, so the request names it
// ("locale"), English when it does not.
var mailLocales = map[string]bool{"en": true, "fr": true}

type inviteRequest struct {
	Email       string `json:"email"`
	DisplayName string `json:"displayName"`
	RedirectURL string `json:"redirectURL"`
	SendMail    bool   `json:"sendMail"`
	// Locale is an extension of the contract: the invitation mail's
	// language, "en" (default) or "fr".
	Locale string `json:"locale"`
}

type inviteResponse struct {
	Guest     guestJSON `json:"guest"`
	RedeemURL string    `json:"redeemURL"`
}

// invite answers POST /invitations: 201 with a new guest, 200 when the
// address already is a guest (same guest, a new link that voids the
// older ones).
func (h *Handler) invite(w http.ResponseWriter, r *http.Request, c call) {
	var req inviteRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	addr, msg := h.checkInvite(&req)
	if msg != "" {
		writeError(w, http.StatusBadRequest, "invalid_request", msg)
		return
	}
	// The mail's place is held first: a full queue refuses the whole
	// invitation rather than create a guest whose mail was dropped.
	var slot mail.Slot
	if req.SendMail {
		var err error
		if slot, err = h.o.Mailer.Reserve(h.o.Tenant); err != nil {
			w.Header().Set("Retry-After", "5")
			writeError(w, http.StatusServiceUnavailable, "mail_unavailable", "the invitation mail cannot be queued now; nothing was changed, try again")
			return
		}
		defer slot.Release()
	}
	g, created, err := h.o.Guests.Invite(r.Context(), addr.Canonical, addr.Display, req.DisplayName)
	if err != nil {
		h.storeFailed(w, r, "invite", err)
		return
	}
	token, err := h.o.Invitations.Issue(r.Context(), h.o.Tenant, g, req.RedirectURL, h.o.InvitationTTL)
	if err != nil {
		h.storeFailed(w, r, "issue invitation", err)
		return
	}
	link := h.o.Issuer + "/redeem/" + token
	action := "invite"
	if !created {
		action = "reinvite"
	}
	h.audit(c, action, g.ID, zap.Bool("mail", req.SendMail))
	if req.SendMail {
		h.sendInvite(slot, g, link, req.Locale, h.inviter(c))
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	jsonhttp.Write(w, status, inviteResponse{Guest: toJSON(g), RedeemURL: link})
}

// sendInvite queues the invitation mail to the guest's stored address.
// A rendering failure is logged: the link is in the answer, so the admin
// can still pass it on.
func (h *Handler) sendInvite(slot mail.Slot, g *guests.Guest, link, locale, inviter string) {
	if locale == "" {
		locale = "en"
	}
	m, err := h.o.Mail.Invite(mail.InviteMail{Lang: locale, To: g.Email, TenantName: h.o.DisplayName,
		InviterName: inviter, RedeemURL: link, AccentColor: h.o.AccentColor})
	if err == nil {
		m.Valid = h.o.InvitationTTL // retried while the link works, no longer
		err = slot.Send(m)
	}
	if err != nil {
		h.o.Logger.Error("admin API: invitation mail not sent", zap.String("tenant", h.o.Tenant),
			zap.String("guest", g.ID), zap.Error(err))
	}
}

// inviter is who the invitation mail says invited the guest: the calling
// admin client's configured name, else the organisation's.
func (h *Handler) inviter(c call) string {
	if n := h.o.InviterNames[c.client]; n != "" {
		return n
	}
	return h.o.DisplayName
}

// checkDisplayName refuses what would reach a terminal, a mail header or a
// log as something else than text: invalid UTF-8 and control characters
// (C0, DEL, C1 — line breaks and escape sequences among them).
func checkDisplayName(name string) string {
	if !utf8.ValidString(name) {
		return "must be valid UTF-8"
	}
	for i, r := range name {
		if unicode.IsControl(r) {
			return fmt.Sprintf("control character U+%04X at byte %d is not allowed", r, i)
		}
	}
	return ""
}

// checkInvite validates an invitation; msg names what is wrong.
func (h *Handler) checkInvite(req *inviteRequest) (canon.Address, string) {
	addr, err := canon.Email(req.Email)
	if err != nil {
		return addr, "email: " + err.Error()
	}
	if len(req.DisplayName) > maxDisplayName {
		return addr, "displayName: at most 256 bytes"
	}
	if msg := checkDisplayName(req.DisplayName); msg != "" {
		return addr, "displayName: " + msg
	}
	if req.RedirectURL != "" {
		if msg := checkRedirect(req.RedirectURL); msg != "" {
			return addr, "redirectURL: " + msg
		}
	}
	if req.Locale != "" && !mailLocales[req.Locale] {
		return addr, `locale: use "en" or "fr"`
	}
	return addr, ""
}

// checkRedirect accepts an absolute https URL, or http on a loopback
// host (development), without credentials; "" when fine.
func checkRedirect(s string) string {
	if len(s) > maxRedirectURL {
		return "at most 2048 bytes"
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" || strings.ContainsAny(s, " \t\r\n\x00\\") {
		return "must be an absolute https URL, e.g. https://app.example/welcome"
	}
	if u.User != nil {
		return "must not carry a user name or password"
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		if canon.LoopbackHost(u.Hostname()) {
			return ""
		}
		return "http is allowed only on a loopback host; use https"
	}
	return "must be an absolute https URL, e.g. https://app.example/welcome"
}

type listResponse struct {
	Guests        []guestJSON `json:"guests"`
	NextPageToken string      `json:"nextPageToken"`
}

// list answers GET /guests?source=&state=&pageSize=&pageToken=.
func (h *Handler) list(w http.ResponseWriter, r *http.Request, _ call) {
	q := r.URL.Query()
	f := guests.Filter{Source: q.Get("source"), State: guests.State(q.Get("state"))}
	if f.State != "" && f.State != guests.PendingAcceptance && f.State != guests.Accepted {
		writeError(w, http.StatusBadRequest, "invalid_request", "state: use PendingAcceptance or Accepted")
		return
	}
	if len(f.Source) > 256 {
		writeError(w, http.StatusBadRequest, "invalid_request", "source: at most 256 bytes")
		return
	}
	size := defaultPageSize
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > guests.MaxPageSize {
			writeError(w, http.StatusBadRequest, "invalid_request", "pageSize: a whole number from 1 to "+strconv.Itoa(guests.MaxPageSize))
			return
		}
		size = n
	}
	cursor, ok := decodePageToken(q.Get("pageToken"))
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid_request", "pageToken: not a token this API returned")
		return
	}
	page, next, err := h.o.Guests.Page(r.Context(), f, size, cursor)
	if errors.Is(err, guests.ErrBadCursor) {
		writeError(w, http.StatusBadRequest, "invalid_request", "pageToken: not a token this API returned")
		return
	}
	if err != nil {
		h.storeFailed(w, r, "list guests", err)
		return
	}
	out := listResponse{Guests: make([]guestJSON, 0, len(page)), NextPageToken: encodePageToken(next)}
	for _, g := range page {
		out.Guests = append(out.Guests, toJSON(g))
	}
	jsonhttp.Write(w, http.StatusOK, out)
}

// The page token is the guests package's cursor in base64url: opaque to
// callers, and validated by guests.Page when it comes back.
func encodePageToken(cursor string) string {
	if cursor == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(cursor))
}

func decodePageToken(tok string) (string, bool) {
	if tok == "" {
		return "", true
	}
	if len(tok) > 1024 {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) == 0 {
		return "", false
	}
	return string(b), true
}

// guest reads {id} and answers 404 for an unknown guest.
func (h *Handler) guest(w http.ResponseWriter, r *http.Request) (*guests.Guest, bool) {
	g, err := h.o.Guests.GetByID(r.Context(), r.PathValue("id"))
	if errors.Is(err, guests.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no guest with this id in this tenant")
		return nil, false
	}
	if err != nil {
		h.storeFailed(w, r, "read guest", err)
		return nil, false
	}
	return g, true
}

// get answers GET /guests/{id}.
func (h *Handler) get(w http.ResponseWriter, r *http.Request, _ call) {
	if g, ok := h.guest(w, r); ok {
		jsonhttp.Write(w, http.StatusOK, toJSON(g))
	}
}

// delete answers DELETE /guests/{id} with 204; the guest's redeem link
// dies with it, and the address can be invited again (a new id).
func (h *Handler) delete(w http.ResponseWriter, r *http.Request, c call) {
	id := r.PathValue("id")
	err := h.o.Guests.Delete(r.Context(), id)
	if errors.Is(err, guests.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no guest with this id in this tenant")
		return
	}
	if err == nil {
		err = h.o.Invitations.Void(r.Context(), h.o.Tenant, id)
	}
	if err != nil {
		h.storeFailed(w, r, "delete guest", err)
		return
	}
	h.audit(c, "delete", id)
	w.WriteHeader(http.StatusNoContent)
}

// reset answers POST /guests/{id}/reset: the source is cleared, the id
// kept; the next sign-in picks a method afresh.
func (h *Handler) reset(w http.ResponseWriter, r *http.Request, c call) {
	g, err := h.o.Guests.ResetRedemption(r.Context(), r.PathValue("id"))
	if errors.Is(err, guests.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no guest with this id in this tenant")
		return
	}
	if err != nil {
		h.storeFailed(w, r, "reset guest", err)
		return
	}
	h.audit(c, "reset", g.ID)
	jsonhttp.Write(w, http.StatusOK, toJSON(g))
}
