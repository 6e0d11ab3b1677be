package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/callsync/callsync/api/apitest"
)

// validJSONCases are bodies on both sides of every rule of the grammar.
var validJSONCases = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e+3`, `-12.0E-7`, `true`, `false`, `null`, ` { "a" : [ 1 , 2 ] } `,
	`{"a":1,"a":2}`, `"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"`, "\"\xff\xfe bad utf-8 is valid\"", "\t\r\n[]\n",
	``, ` `, `{`, `}`, `[1,]`, `{"a":1,}`, `{,}`, `{"a"}`, `{"a":}`, `{1:2}`, `[1 2]`, `{"a":1 "b":2}`,
	`01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x10`, `NaN`, `tru`, `nul`, `truex`, `[true false]`,
	`"abc`, `"\x"`, `"\u12"`, `"\u12G4"`, "\"a\x01b\"", "\"tab\there\"", `{} {}`, `[]]`, `"a"b`,
}

func TestValidJSON_AgreesWithEncodingJSON(t *testing.T) {
	cases := append([]string{}, validJSONCases...)
	for _, depth := range []int{maxNesting - 1, maxNesting, maxNesting + 1} {
		cases = append(cases, strings.Repeat("[", depth)+strings.Repeat("]", depth),
			`{"a":`+strings.Repeat(`{"a":`, depth-1)+`1`+strings.Repeat("}", depth))
	}
	for _, c := range apitest.Generate(apitest.GenerateOptions{Seed: 3, Calls: 50}) {
		body := string(c.GetJSON())
		cases = append(cases, body, body[:len(body)/2], body+"x")
	}
	for _, c := range cases {
		if got, want := validJSON([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("validJSON(%.80q) = %v, encoding/json says %v", c, got, want)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, c := range validJSONCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

func BenchmarkValidJSON(b *testing.B) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 3, Calls: 100})
	bodies := make([][]byte, len(calls))
	size := 0
	for i, c := range calls {
		bodies[i] = c.GetJSON()
		size += len(bodies[i])
	}
	for _, v := range []struct {
		name  string
		valid func([]byte) bool
	}{{"encoding/json", json.Valid}, {"validJSON", validJSON}} {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(int64(size / len(bodies)))
			for i := 0; b.Loop(); i++ {
				if !v.valid(bodies[i%len(bodies)]) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
