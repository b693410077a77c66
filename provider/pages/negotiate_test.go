package pages

import (
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// oldParseAcceptLanguage is the Accept-Language parser as it was before it
// walked the header in place: the reference the new one must keep to.
func oldParseAcceptLanguage(header string) []string {
	type pref struct {
		lang string
		q    float64
	}
	var prefs []pref
	for i, part := range strings.Split(header, ",") {
		if i >= maxLangRanges {
			break
		}
		fields := strings.Split(part, ";")
		tag := strings.ToLower(strings.TrimSpace(fields[0]))
		if tag == "" {
			continue
		}
		q, ok := 1.0, true
		for _, p := range fields[1:] {
			k, v, found := strings.Cut(strings.TrimSpace(p), "=")
			if !found || strings.TrimSpace(strings.ToLower(k)) != "q" {
				continue
			}
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 || f > 1 {
				ok = false
				break
			}
			q = f
		}
		if !ok || q == 0 {
			continue
		}
		primary, _, _ := strings.Cut(tag, "-")
		primary, _, _ = strings.Cut(primary, "_")
		if !isLangSubtag(primary) {
			continue
		}
		prefs = append(prefs, pref{primary, q})
	}
	sort.SliceStable(prefs, func(i, j int) bool { return prefs[i].q > prefs[j].q })
	out := make([]string, 0, len(prefs))
	for _, p := range prefs {
		out = append(out, p.lang)
	}
	return out
}

// languages and Negotiate answer as they always did, for
// headers well and badly formed: capitals, odd parameters, q=NaN, more
// ranges than are read, and a subtag that lowercases outside ASCII.
func TestAcceptLanguageAsBefore(t *testing.T) {
	r := newRenderer(t)
	long := strings.Repeat("de;q=0.1,", maxLangRanges-1) + "fr;q=0.9,en;q=0.95"
	headers := []string{"", " ", ",", ";", "en", "EN-us", "fr-CA,fr;q=0.9,en;q=0.8", "de;q=0.9,fr;q=0.9,en;q=0.9",
		"fr;q=0", "fr;q=1.5", "fr;q=-1", "fr;q=abc,en", "fr;Q=0.5,en;q=0.6", "fr; q = 0.5 ;x=y,en;;q=0.4", "fr;q",
		"*", "*;q=0.1,fr;q=0.05", "fr_CA,en", "fr;q=NaN,en;q=0.5,de", "en;q=NaN,fr;q=NaN,de;q=0.3,fr", "İt,en", "\u212Aa,fr",
		"x-klingon,fr", "toolongsubtag,fr", long, long + ",fr", "fr,,,en;q=0.5", "fr;q=0.5;q=0.9,en;q=0.8", "es,de,it,fr;q=0.01"}
	for _, h := range headers {
		want := oldParseAcceptLanguage(h)
		var buf [maxLangRanges]langPref
		got := []string{}
		for _, p := range languages(h, &buf) {
			got = append(got, p.lang)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("languages(%q) = %q, want %q", h, got, want)
		}
		wantLang := defaultLang
		for _, l := range want {
			if l == "*" {
				break
			}
			if _, ok := r.cat[l]; ok {
				wantLang = l
				break
			}
		}
		if got := r.Negotiate(h); got != wantLang {
			t.Errorf("Negotiate(%q) = %q, want %q", h, got, wantLang)
		}
	}
}

// Negotiate, which every page runs, allocates nothing for a browser's
// usual header.
func TestNegotiateAllocatesNothing(t *testing.T) {
	r := newRenderer(t)
	if n := testing.AllocsPerRun(100, func() { _ = r.Negotiate("fr-CA,fr;q=0.9,en-US;q=0.8,en;q=0.7") }); n != 0 {
		t.Errorf("Negotiate: %v allocations", n)
	}
}
