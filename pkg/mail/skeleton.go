package mail

import "strings"

// A passcode mail differs from the others of its tenant, app, language
// and validity only by its code and its address. Running the three
// templates for every mail (html/template escaping every value through
// reflection) cost more than the rest of the mail's way to the outbox, so
// each such mail is rendered once with placeholders (a skeleton) and each
// mail is the skeleton with its own code and address spliced in. Nothing
// of one mail is kept for another: a skeleton holds only placeholders and
// what its key says.

// codeKey is what a passcode mail says besides its code and address.
type codeKey struct {
	lang, tenant, app, accent string
	minutes                   int
}

// skeletonCap bounds the skeletons kept: past it the first ones stay
// and mails of other tenants, apps or languages are rendered whole (as
// the page cache stops adding past its bound).
const skeletonCap = 1024

// skeleton is a passcode mail's subject, text and html, cut at the
// placeholders.
type skeleton struct{ parts [3]cut }

// cut is a rendered part cut at its placeholders: segs[i] comes before
// the value holes[i] (0: the code, 1: the address); the last seg ends it.
type cut struct {
	segs  []string
	holes []int
}

// printable is every printable ASCII character but the space: an address
// made of these can be spliced (the probes hold them all).
const printable = "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"

// codeProbes are codes and addresses a skeleton is checked with before
// it is used: splicing them must give exactly what the templates give. A
// template that escapes a value otherwise than html/template does in
// HTML text (in a URL, a script, an unquoted attribute) or transforms it
// (its length, a slice) fails the check, and its mails are rendered
// whole.
var codeProbes = [...][2]string{
	{"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", printable},
	{"7", "a@b"},
}

// htmlEscaper escapes as html/template does a value in HTML text.
var htmlEscaper = strings.NewReplacer("\x00", "\uFFFD", `"`, "&#34;", "&", "&amp;", "'", "&#39;",
	"+", "&#43;", "<", "&lt;", ">", "&gt;")

// skeleton returns the skeleton for data's mail, made on first use; nil
// when its code or address cannot be spliced, or its templates cannot.
func (r *Renderer) skeleton(lang string, data codeData) *skeleton {
	if !only(data.Code, isAlnum) || !only(data.To, isPrintable) {
		return nil
	}
	lang = r.pick(KindCode, lang)
	key := codeKey{lang: lang, tenant: data.TenantName, app: data.AppName, accent: data.AccentColor, minutes: data.ValidityMinutes}
	r.mu.Lock()
	sk, ok := r.skeletons[key]
	full := len(r.skeletons) >= skeletonCap
	r.mu.Unlock()
	if ok {
		return sk
	}
	if full {
		// Past the cap the skeletons kept stay and a new mail is rendered
		// whole: one template run, where cutting a skeleton that a full
		// cache cannot keep would cost three.
		return nil
	}
	sk = r.cutOut(lang, data)
	r.mu.Lock()
	if len(r.skeletons) < skeletonCap {
		r.skeletons[key] = sk
	}
	r.mu.Unlock()
	return sk
}

// cutOut renders data's mail with the placeholders for its code and
// address and cuts it at them; nil unless splicing the probes into it
// gives what the templates give for them.
func (r *Renderer) cutOut(lang string, data codeData) *skeleton {
	data.Code, data.To = r.hole[0], r.hole[1]
	parts, err := r.execute(KindCode, lang, data)
	if err != nil {
		return nil // rendered whole, the mail reports the error
	}
	sk := &skeleton{}
	for i, p := range parts {
		sk.parts[i] = r.cut(p)
	}
	for _, probe := range codeProbes {
		data.Code, data.To = probe[0], probe[1]
		want, err := r.execute(KindCode, lang, data)
		if err != nil || want != sk.splice(probe[0], probe[1]) {
			return nil
		}
	}
	return sk
}

// cut cuts s at the placeholders.
func (r *Renderer) cut(s string) cut {
	var c cut
	for {
		at, hole := -1, 0
		for h, ph := range r.hole {
			if i := strings.Index(s, ph); i >= 0 && (at < 0 || i < at) {
				at, hole = i, h
			}
		}
		if at < 0 {
			c.segs = append(c.segs, s)
			return c
		}
		c.segs = append(c.segs, s[:at])
		c.holes = append(c.holes, hole)
		s = s[at+len(r.hole[hole]):]
	}
}

// splice fills the skeleton with a code and an address (escaped in the
// html part).
func (sk *skeleton) splice(code, to string) [3]string {
	var out [3]string
	for i, p := range sk.parts {
		values := [2]string{code, to}
		if i == 2 {
			values = [2]string{htmlEscaper.Replace(code), htmlEscaper.Replace(to)}
		}
		var b strings.Builder
		n := 0
		for _, s := range p.segs {
			n += len(s)
		}
		b.Grow(n + len(p.holes)*len(values[1]))
		for j, s := range p.segs {
			b.WriteString(s)
			if j < len(p.holes) {
				b.WriteString(values[p.holes[j]])
			}
		}
		out[i] = b.String()
	}
	return out
}

// only reports whether s is not empty and every byte of it is ok.
func only(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return s != ""
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isPrintable(c byte) bool { return '!' <= c && c <= '~' }
