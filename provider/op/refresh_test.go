package op

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/guestpass/guestpass/pkg/store/memory"
)

// refreshStorage is a tenant's storage over a memory store, and a refresh
// token of a live family saved as a token issued before refresh tokens
// named their family was (the secret alone).
func refreshStorage(t *testing.T) (*storage, string) {
	t.Helper()
	st := memory.New(time.Now)
	t.Cleanup(func() { _ = st.Close() })
	s := &storage{tenant: "fabrikam", st: st, clock: time.Now, sessionLifetime: time.Hour}
	rt := refreshToken{Tenant: "fabrikam", Family: "3f2c1d9e-1111-4222-8333-444455556666", ClientID: "portal",
		Scopes: []string{"openid"}, Identity: Identity{Subject: "sub-1", AuthTime: time.Now()}, Expires: time.Now().Add(time.Hour)}
	b, err := json.Marshal(rt)
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := randomToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Set(context.Background(), s.k("rt", hashToken(legacy)), b, time.Hour); err != nil {
		t.Fatal(err)
	}
	return s, legacy
}

// rotate runs a refresh grant's storage steps for tok.
func rotate(t *testing.T, s *storage, tok string) (string, error) {
	t.Helper()
	ctx := context.Background()
	req, err := s.TokenRequestByRefreshToken(ctx, tok)
	if err != nil {
		return "", err
	}
	_, next, _, err := s.CreateAccessAndRefreshTokens(ctx, req, tok)
	return next, err
}

// A token of the earlier shape still rotates, into one that names its
// family; replaying either revokes the family for both shapes.
func TestRefreshTokenShapes(t *testing.T) {
	s, legacy := refreshStorage(t)
	next, err := rotate(t, s, legacy)
	if err != nil {
		t.Fatalf("legacy token: %v", err)
	}
	if fam, ok := familyOf(next); !ok || fam != "3f2c1d9e-1111-4222-8333-444455556666" {
		t.Fatalf("rotated token %q does not name its family", next)
	}
	third, err := rotate(t, s, next)
	if err != nil {
		t.Fatalf("family-named token: %v", err)
	}
	if _, err := rotate(t, s, next); err == nil {
		t.Fatal("a replayed token was accepted")
	}
	if _, err := rotate(t, s, third); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("the family's latest token after a replay: %v, want revoked", err)
	}
	if _, err := rotate(t, s, legacy); err == nil {
		t.Fatal("the replayed legacy token was accepted")
	}
}

// A token whose text names another family than its record is refused,
// so the revoked mark read is always the record's own family's.
func TestRefreshTokenFamilyMustMatch(t *testing.T) {
	s, legacy := refreshStorage(t)
	ctx := context.Background()
	raw, err := s.st.Get(ctx, s.k("rt", hashToken(legacy)))
	if err != nil {
		t.Fatal(err)
	}
	forged := "0000aaaa-0000-4000-8000-000000000000." + legacy
	if err := s.st.Set(ctx, s.k("rt", hashToken(forged)), raw, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenRequestByRefreshToken(ctx, forged); err == nil {
		t.Fatal("a token naming another family than its record's was accepted")
	}
	for _, tok := range []string{"{x}." + legacy, "ABC." + legacy, strings.Repeat("a", 65) + "." + legacy} {
		if _, ok := familyOf(tok); ok {
			t.Errorf("familyOf(%q) accepted a family that is no UUID", tok)
		}
	}
}

// A stored record spelled otherwise than json.Marshal spells it (an older
// writer's whitespace, an explicit "used":false, a member this version
// does not know) still rotates through the slow paths (json.Unmarshal,
// a full encode to mark it used), and a replay still revokes the family.
func TestRefreshRecordsOfOtherSpellings(t *testing.T) {
	for name, respell := range map[string]func(t *testing.T, b []byte) []byte{
		"indented": func(t *testing.T, b []byte) []byte {
			var v map[string]any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			out, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			return out
		},
		"used false": func(_ *testing.T, b []byte) []byte {
			return append([]byte(`{"used":false,`), b[1:]...)
		},
		"unknown member last": func(_ *testing.T, b []byte) []byte {
			return append(b[:len(b)-1:len(b)-1], `,"zz":1}`...)
		},
	} {
		t.Run(name, func(t *testing.T) {
			s, legacy := refreshStorage(t)
			ctx := context.Background()
			key := s.k("rt", hashToken(legacy))
			raw, err := s.st.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.st.Set(ctx, key, respell(t, raw), time.Hour); err != nil {
				t.Fatal(err)
			}
			next, err := rotate(t, s, legacy)
			if err != nil {
				t.Fatalf("rotate: %v", err)
			}
			if fam, ok := familyOf(next); !ok || fam != "3f2c1d9e-1111-4222-8333-444455556666" {
				t.Fatalf("rotated token %q does not name its family", next)
			}
			if _, err := rotate(t, s, legacy); err == nil {
				t.Fatal("a replayed token was accepted")
			}
			if _, err := rotate(t, s, next); err == nil || !strings.Contains(err.Error(), "revoked") {
				t.Fatalf("the family's latest token after a replay: %v, want revoked", err)
			}
		})
	}
}

// A token revoked (deleted) between the grant's read and its swap is not
// rotated: the swap finds nothing, writes nothing, and the grant is
// refused as a lost race (invalid_grant, never a server error), with the
// family revoked, so the tokens saved beside the swap are dead too.
func TestRefreshTokenGoneBeforeItsSwap(t *testing.T) {
	s, legacy := refreshStorage(t)
	ctx := context.Background()
	req, err := s.TokenRequestByRefreshToken(ctx, legacy)
	if err != nil {
		t.Fatal(err)
	}
	key := s.k("rt", hashToken(legacy))
	if err := s.st.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	_, next, _, err := s.CreateAccessAndRefreshTokens(ctx, req, legacy)
	var oe *oidc.Error
	if !errors.As(err, &oe) || oe.ErrorType != oidc.InvalidGrant {
		t.Fatalf("rotation of a token deleted meanwhile: %v, want invalid_grant", err)
	}
	if next != "" {
		t.Fatal("a refresh token was handed out")
	}
	if _, err := s.st.Get(ctx, key); err == nil {
		t.Fatal("the swap wrote over a deleted token")
	}
	if _, err := s.st.Get(ctx, s.k("rtf-revoked", req.(*refreshToken).Family)); err != nil {
		t.Fatalf("the family is not marked revoked: %v", err)
	}
}
