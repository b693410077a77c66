package admin

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/guestpass/guestpass/pkg/jsonhttp"
)

type policyJSON struct {
	EmailOTP emailOTPJSON `json:"emailOTP"`
}

type emailOTPJSON struct {
	Enabled bool `json:"enabled"`
	// From says where the value comes from: "config" (the YAML) or
	// "admin" (an override stored through this API).
	From string `json:"from"`
}

type policyRequest struct {
	EmailOTP *struct {
		Enabled *bool `json:"enabled"`
		// From is accepted and ignored, so the body GET answered can be
		// sent back as is (the source of a value set here is "admin").
		From *string `json:"from"`
	} `json:"emailOTP"`
}

// getPolicy answers GET /policy.
func (h *Handler) getPolicy(w http.ResponseWriter, r *http.Request, _ call) {
	h.answerPolicy(w, r)
}

func (h *Handler) answerPolicy(w http.ResponseWriter, r *http.Request) {
	on, set, err := h.o.Policies.EmailOTPOverride(r.Context(), h.o.Tenant)
	if err != nil {
		h.storeFailed(w, r, "read policy", err)
		return
	}
	p := policyJSON{EmailOTP: emailOTPJSON{Enabled: h.o.EmailOTPDefault, From: "config"}}
	if set {
		p.EmailOTP = emailOTPJSON{Enabled: on, From: "admin"}
	}
	jsonhttp.Write(w, http.StatusOK, p)
}

// setPolicy answers PUT /policy {"emailOTP":{"enabled":bool}}: stored, so
// every replica obeys it on its next request.
func (h *Handler) setPolicy(w http.ResponseWriter, r *http.Request, c call) {
	var req policyRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	if req.EmailOTP == nil || req.EmailOTP.Enabled == nil {
		writeError(w, http.StatusBadRequest, "invalid_request", `emailOTP.enabled is required: {"emailOTP":{"enabled":true|false}}`)
		return
	}
	if err := h.o.Policies.SetEmailOTP(r.Context(), h.o.Tenant, *req.EmailOTP.Enabled); err != nil {
		h.storeFailed(w, r, "set policy", err)
		return
	}
	h.audit(c, "policy.set", "", zap.Bool("emailOTP", *req.EmailOTP.Enabled))
	h.answerPolicy(w, r)
}

// clearPolicy answers DELETE /policy: the YAML's value applies again.
func (h *Handler) clearPolicy(w http.ResponseWriter, r *http.Request, c call) {
	if err := h.o.Policies.ClearEmailOTP(r.Context(), h.o.Tenant); err != nil {
		h.storeFailed(w, r, "clear policy", err)
		return
	}
	h.audit(c, "policy.clear", "")
	h.answerPolicy(w, r)
}
