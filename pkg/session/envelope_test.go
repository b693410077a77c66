package session

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/guestpass/guestpass/pkg/appendjson/appendjsontest"
)

// decodeStateBefore is State's decoding as it was before splitEnvelope:
// the reference the fast path must agree with.
func decodeStateBefore(f *Flows, b []byte, v any) error {
	var env stateEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		return ErrNoState
	}
	age := f.clock().Sub(time.Unix(env.IAT, 0))
	if age >= FlowLifetime || age < -time.Minute {
		return ErrNoState
	}
	if err := json.Unmarshal(env.V, v); err != nil {
		return ErrNoState
	}
	return nil
}

type envValue struct {
	Email   string            `json:"e"`
	Allowed bool              `json:"a"`
	Tags    []string          `json:"t,omitempty"`
	More    map[string]string `json:"m,omitempty"`
}

// The envelope SetState writes is json.Marshal's, byte for byte.
func TestEnvelopeIsMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 31))
	for range 5000 {
		v := envValue{Email: appendjsontest.String(r), Allowed: r.IntN(2) == 0, Tags: appendjsontest.Strings(r)}
		if r.IntN(2) == 0 {
			v.More = map[string]string{appendjsontest.String(r): appendjsontest.String(r)}
		}
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		iat := r.Int64() - r.Int64()
		want, err := json.Marshal(stateEnvelope{V: raw, IAT: iat})
		if err != nil {
			t.Fatal(err)
		}
		if got := appendEnvelope(nil, raw, iat); string(got) != string(want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	}
}

// Whatever the opened cookie holds, State decodes it as before: the
// same error or the same value.
func TestDecodeStateAsBefore(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	f := NewFlows(testOptions(func() time.Time { return now }, false))
	iat := fmt.Sprint(now.Unix() - 60)
	val := `{"e":"a@b.example","a":true,"t":["x","y"]}`
	canon := `{"v":` + val + `,"iat":` + iat + `}`
	cases := []string{
		canon,
		`{"v":` + val + `,"iat":` + fmt.Sprint(now.Unix()-int64(FlowLifetime/time.Second)) + `}`, // expired
		`{"v":` + val + `,"iat":` + fmt.Sprint(now.Unix()+120) + `}`,                             // future
		`{"v":` + val + `,"iat":-0}`,
		`{"v":` + val + `,"iat":0` + iat + `}`,
		`{"v":` + val + `,"iat":+` + iat + `}`,
		`{"v":` + val + `,"iat":` + iat + `.0}`,
		`{"v":` + val + `,"iat":` + iat + `e0}`,
		`{"v":` + val + `,"iat":99999999999999999999}`,
		`{"v":` + val + `,"iat":}`,
		`{"v":` + val + `,"iat":"` + iat + `"}`,
		`{"v":` + val + `,"x":1,"iat":` + iat + `}`,             // a third member
		`{"v":` + val + `,"v":{"e":"other"},"iat":` + iat + `}`, // duplicate v
		`{"v":` + val + `,"iat":1,"iat":` + iat + `}`,           // duplicate iat
		`{"v":{"e":"x,\"iat\":1}"},"iat":` + iat + `}`,          // the tail inside a string
		`{"v":{"e":"x","iat":1},"iat":` + iat + `}`,             // the tail inside the value
		`{"V":` + val + `,"IAT":` + iat + `}`,                   // case-insensitive names
		`{"iat":` + iat + `,"v":` + val + `}`,                   // order
		` {"v":` + val + `,"iat":` + iat + `}`,                  // whitespace
		`{"v":` + val + `,"iat":` + iat + `} `,
		`{"v": ` + val + `,"iat":` + iat + `}`,
		`{"v":{"e":1},"iat":` + iat + `}`, // a value v does not take
		`{"v":{"e":"a"`, `{"v":,"iat":` + iat + `}`, `{"v":null,"iat":` + iat + `}`, `{"v":[1],"iat":` + iat + `}`,
		`{"v":{"e":"a"}}`, `{"v":{"e":"a"},"iat":` + iat + `}}`, `{}`, ``, `null`,
		`{"v":{"e":"a","e":"b"},"iat":` + iat + `}`,
		`{"v":"` + strings.Repeat("x", 100) + `","iat":` + iat + `}`,
	}
	for i := range len(canon) {
		cases = append(cases, canon[:i], canon[:i]+"}")
	}
	for _, b := range cases {
		var got, want envValue
		err := f.decodeState([]byte(b), &got)
		wantErr := decodeStateBefore(f, []byte(b), &want)
		if err != wantErr || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\n got %+v, %v\nwant %+v, %v", b, got, err, want, wantErr)
		}
	}
	var got envValue
	if err := f.decodeState([]byte(canon), &got); err != nil || got.Email != "a@b.example" || len(got.Tags) != 2 {
		t.Fatalf("canonical envelope: %+v, %v", got, err)
	}
}

func FuzzDecodeState(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	fl := NewFlows(testOptions(func() time.Time { return now }, false))
	f.Add([]byte(`{"v":{"e":"a@b.example","a":true},"iat":1799999990}`))
	f.Add([]byte(`{"v":{"e":"a","t":["x"]},"x":1,"iat":1799999990}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var got, want envValue
		err := fl.decodeState(b, &got)
		wantErr := decodeStateBefore(fl, b, &want)
		if err != wantErr || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n got %+v, %v\nwant %+v, %v", b, got, err, want, wantErr)
		}
	})
}

// BenchmarkState compares the envelope's encoding and decoding with the
// two encoding/json passes they replaced.
func BenchmarkState(b *testing.B) {
	now := time.Unix(1_800_000_000, 0)
	f := NewFlows(testOptions(func() time.Time { return now }, false))
	v := envValue{Email: "guest.name@example.com", Allowed: true, Tags: []string{"otp"}}
	raw, _ := json.Marshal(v)
	env := appendEnvelope(nil, raw, now.Unix())
	b.Run("encode/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			raw, _ := json.Marshal(v)
			_, _ = json.Marshal(stateEnvelope{V: raw, IAT: now.Unix()})
		}
	})
	b.Run("encode/hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			raw, _ := json.Marshal(v)
			_ = appendEnvelope(make([]byte, 0, len(raw)+32), raw, now.Unix())
		}
	})
	b.Run("decode/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var got envValue
			_ = decodeStateBefore(f, env, &got)
		}
	})
	b.Run("decode/hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var got envValue
			_ = f.decodeState(env, &got)
		}
	})
}
