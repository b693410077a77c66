package main

import (
	"strings"
	"testing"

	"github.com/guestpass/guestpass/pkg/adminclient"
)

// A name with terminal escapes, a line break, a tab or broken UTF-8 (from
// a server that let it through, or one that is not guestpass) is shown
// escaped: the table never hands the terminal a control character.
func TestGuestTableEscapesNonPrintables(t *testing.T) {
	var b strings.Builder
	guestTable(&b, []adminclient.Guest{{ID: "id-1", Email: "a@b.example", State: "Accepted",
		DisplayName: "Ann\x1b[2J\u009b\nX\tY\xffé"}})
	out := b.String()
	for _, r := range out {
		if r != '\n' && r < ' ' || r == 0x7f || r >= 0x80 && r < 0xa0 {
			t.Fatalf("control character %U in the table:\n%q", r, out)
		}
	}
	if !strings.Contains(out, `Ann\x1b[2J\u009b\nX\tY\xffé`) {
		t.Fatalf("name not shown escaped:\n%s", out)
	}
	if strings.Count(out, "\n") != 2 {
		t.Fatalf("the name broke the table's lines:\n%s", out)
	}
}
