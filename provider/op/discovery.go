package op

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// discoveryDoc is the tenant's OpenID Provider Metadata (OpenID Connect
// Discovery 1.0 §3, RFC 8414). It is our own type rather than the
// library's so that it says exactly what works here: the library's
// document advertises implicit and hybrid response types, the device
// endpoint, the jwt-bearer grant and RS256 client-assertion algorithms,
// none of which guestpass serves. Every list is checked against the
// endpoints by TestDiscoveryMatchesEndpoints.
type discoveryDoc struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	UserinfoEndpoint      string `json:"userinfo_endpoint"`
	JwksURI               string `json:"jwks_uri"`
	EndSessionEndpoint    string `json:"end_session_endpoint"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`

	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	RevocationAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	UILocalesSupported                []string `json:"ui_locales_supported,omitempty"`

	// RFC 9207 §3: every authorization response carries iss, so clients
	// that check iss only when advertised do check it.
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
	// Request objects are not supported: request and request_uri are
	// refused on /authorize (request_not_supported, request_uri_not_supported).
	RequestParameterSupported    bool `json:"request_parameter_supported"`
	RequestURIParameterSupported bool `json:"request_uri_parameter_supported"`
	ClaimsParameterSupported     bool `json:"claims_parameter_supported"`
}

// responseModes are the response_mode values /authorize accepts; any
// other value is refused (authorize.go).
var responseModes = []oidc.ResponseMode{oidc.ResponseModeQuery, oidc.ResponseModeFragment, oidc.ResponseModeFormPost}

// Client authentication methods, per endpoint, as authenticateClient
// (clientauth.go) accepts them: basic or post for clients with a secret,
// none for public ones. The library's endpoints are not served.
const (
	authBasic = "client_secret_basic"
	authPost  = "client_secret_post"
	authNone  = "none"
)

// discoveryFacts are what the document depends on beyond the library's
// endpoint paths: what the tenant's clients can do, and which languages
// the pages speak.
type discoveryFacts struct {
	anyAdmin, anyPublic bool
	uiLocales           []string
	claims, scopes      []string
}

// buildDiscovery renders the document once per tenant (at provider build
// time); serving it is then a copy of bytes.
func buildDiscovery(p *op.Provider, st op.DiscoverStorage, issuer string, f discoveryFacts) ([]byte, error) {
	algs, err := st.SignatureAlgorithms(context.Background())
	if err != nil {
		return nil, fmt.Errorf("discovery: signing algorithms: %w", err)
	}
	signing := make([]string, len(algs))
	for i, a := range algs {
		signing[i] = string(a)
	}
	grants := []string{string(oidc.GrantTypeCode), string(oidc.GrantTypeRefreshToken)}
	if f.anyAdmin {
		// Only admin clients may use client_credentials: a tenant without
		// one does not offer the grant at all.
		grants = append(grants, string(oidc.GrantTypeClientCredentials))
	}
	tokenAuth := []string{authBasic, authPost}
	if f.anyPublic {
		tokenAuth = append(tokenAuth, authNone)
	}
	modes := make([]string, len(responseModes))
	for i, m := range responseModes {
		modes[i] = string(m)
	}
	d := discoveryDoc{
		Issuer:                            issuer,
		AuthorizationEndpoint:             p.AuthorizationEndpoint().Absolute(issuer),
		TokenEndpoint:                     p.TokenEndpoint().Absolute(issuer),
		UserinfoEndpoint:                  p.UserinfoEndpoint().Absolute(issuer),
		JwksURI:                           p.KeysEndpoint().Absolute(issuer),
		EndSessionEndpoint:                p.EndSessionEndpoint().Absolute(issuer),
		RevocationEndpoint:                p.RevocationEndpoint().Absolute(issuer),
		IntrospectionEndpoint:             p.IntrospectionEndpoint().Absolute(issuer),
		ScopesSupported:                   f.scopes,
		ResponseTypesSupported:            []string{string(oidc.ResponseTypeCode)},
		ResponseModesSupported:            modes,
		GrantTypesSupported:               grants,
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  signing,
		TokenEndpointAuthMethodsSupported: tokenAuth,
		// Our revocation endpoint takes the same methods as the token
		// endpoint (a public client revokes its own tokens).
		RevocationAuthMethodsSupported: tokenAuth,
		// Introspection: the confidential clients' methods, never a
		// public client.
		IntrospectionAuthMethodsSupported:          []string{authBasic, authPost},
		ClaimsSupported:                            f.claims,
		CodeChallengeMethodsSupported:              []string{string(oidc.CodeChallengeMethodS256)},
		UILocalesSupported:                         f.uiLocales,
		AuthorizationResponseIssParameterSupported: true,
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("discovery document: %w", err)
	}
	return b, nil
}

// discoveryHandler serves the prebuilt document. It sits behind the same
// CORS handler as the library's routes (see New), so a browser app of
// the tenant can read it as before.
func discoveryHandler(doc []byte) http.Handler {
	// The header values are built once: Header.Set would make a new
	// slice for each on every request. Set replaces rather than appends
	// to them, so the shared slices are never written.
	contentType, cacheControl := []string{"application/json"}, []string{"public, max-age=300"}
	length := []string{strconv.Itoa(len(doc))}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = contentType
		h["Cache-Control"] = cacheControl
		h["Content-Length"] = length
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(doc)
		}
	})
}
