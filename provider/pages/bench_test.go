package pages

import (
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/guestpass/guestpass/templates"
)

// BenchmarkRender renders the pages of one passcode sign-in (the email
// and code pages) the way the login handler does.
//
//	go test -run '^$' -bench BenchmarkRender -benchmem ./provider/pages
func BenchmarkRender(b *testing.B) {
	r, err := New(templates.FS)
	if err != nil {
		b.Fatal(err)
	}
	d := Data{Tenant: Branding{TenantID: "contoso", DisplayName: "Contoso"}, AppName: "Portal",
		CSRF: "c2VjcmV0LWNzcmYtdG9rZW4tMTIzNDU2Nzg5MA", Email: "guest@example.com",
		RequestID: "6ba7b810-9dad-11d1-80b4-00c04fd430c8"}
	d.Actions = sampleActions("/contoso/login", d.RequestID)
	req := httptest.NewRequest("GET", "/contoso/login", nil)
	req.Header.Set("Accept-Language", "en")
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range []string{PageEmail, PageCode} {
			w := httptest.NewRecorder()
			r.Render(w, req, p, d)
		}
	}
}

// The view repeats Data's fields (flat, for speed): every field of Data
// must be there, with its type, or a template using it would fail.
func TestViewHasDataFields(t *testing.T) {
	dt, vt := reflect.TypeOf(Data{}), reflect.TypeOf(view{})
	for i := range dt.NumField() {
		f := dt.Field(i)
		vf, ok := vt.FieldByName(f.Name)
		if !ok || vf.Type != f.Type || len(vf.Index) != 1 {
			t.Errorf("view lacks Data's field %s %v", f.Name, f.Type)
		}
	}
	d := Data{Lang: "fr", Tenant: Branding{TenantID: "t"}, AppName: "a", Title: "ti", CSRF: "c", Email: "e",
		LoginHint: true, FieldError: "fe", Message: "m", MessageArgs: []any{1}, Status: 400,
		Actions: Actions{Email: "x"}, Extra: map[string]string{"k": "v"}, Apps: []App{{Name: "n"}}, Hidden: []Field{{Name: "h"}},
		RequestID: "r"}
	r := &Renderer{cat: builtinCatalog()}
	v := reflect.ValueOf(*r.newView(PageEmail, d, "nonce"))
	dv := reflect.ValueOf(d)
	for i := range dt.NumField() {
		name := dt.Field(i).Name
		if !reflect.DeepEqual(v.FieldByName(name).Interface(), dv.Field(i).Interface()) {
			t.Errorf("newView does not copy %s", name)
		}
	}
}
