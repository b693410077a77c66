package pages

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// messageKeyConsts reads keys.go for every constant of type MessageKey, so
// a key added there is checked without being listed again here; group
// non-empty keeps the const blocks whose comment starts with it.
func messageKeyConsts(t *testing.T, group string) map[string]MessageKey {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "keys.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]MessageKey{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		if group != "" && (gd.Doc == nil || !strings.HasPrefix(gd.Doc.Text(), group)) {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "MessageKey" {
				t.Fatalf("keys.go: constant %s is not declared as a MessageKey", vs.Names[0])
			}
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok {
					t.Fatalf("keys.go: %s is not a string literal", name)
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				keys[name.Name] = MessageKey(v)
			}
		}
	}
	if len(keys) == 0 {
		t.Fatal("keys.go declares no MessageKey")
	}
	return keys
}

// TestMessageKeysTranslated: every key a handler can show has a text in
// every built-in language (a guest never sees "otp_disabled").
func TestMessageKeysTranslated(t *testing.T) {
	cat := builtinCatalog()
	for name, key := range messageKeyConsts(t, "") {
		for lang, msgs := range cat {
			if msgs[string(key)] == "" {
				t.Errorf("%s (%q) has no %s text", name, key, lang)
			}
		}
	}
}

// TestErrorPageTitles: every key of keys.go's "Error pages" block has its
// "<key>_title" (the error page's heading) in every built-in language,
// as that block promises.
func TestErrorPageTitles(t *testing.T) {
	cat := builtinCatalog()
	for name, key := range messageKeyConsts(t, "Error pages") {
		for lang, msgs := range cat {
			if msgs[string(key)+"_title"] == "" {
				t.Errorf("%s (%q) has no %s title", name, key, lang)
			}
		}
	}
}

// TestActionsByName: templates reach every action by its field's name in
// lower case, as they reached the map's entries.
func TestActionsByName(t *testing.T) {
	var a Actions
	v := reflect.ValueOf(&a).Elem()
	for i := range v.NumField() {
		name := strings.ToLower(v.Type().Field(i).Name)
		v.Field(i).SetString("/" + name)
	}
	for i := range v.NumField() {
		name := strings.ToLower(v.Type().Field(i).Name)
		if got := a.ByName(name); got != "/"+name {
			t.Errorf("ByName(%q) = %q, want %q", name, got, "/"+name)
		}
	}
	if got := a.ByName("nonsense"); got != "" {
		t.Errorf("ByName(unknown) = %q, want empty", got)
	}
}
