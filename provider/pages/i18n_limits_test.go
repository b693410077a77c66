package pages

import "testing"

func TestAbuseLimitMessages(t *testing.T) {
	r := newRenderer(t)
	for _, k := range []string{"too_many_addresses", "too_many_requests", "mail_unavailable", "too_many_sign_ins"} {
		for _, l := range allLangs {
			for _, key := range []string{k, k + "_title"} {
				if got := r.T(l, key); got == key || got == "" {
					t.Errorf("%s: no %q", l, key)
				}
			}
		}
	}
}
