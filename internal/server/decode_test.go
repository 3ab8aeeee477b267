package server

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/api"
)

func TestDecodeStrict(t *testing.T) {
	type req struct {
		Email string     `json:"email"`
		Role  *api.Role  `json:"role,omitempty"`
		TTL   *int64     `json:"ttl_seconds,omitempty"`
		Inner api.Bytes  `json:"inner"`
		Keep  bool       `json:"keep"`
		Epoch uint32     `json:"epoch"`
		Any   []struct{} `json:"any"`
	}
	ok := []struct {
		in      string
		present []string
	}{
		{`{}`, nil},
		{` {"email":"a@b.io"} `, []string{"email"}},
		{`{"email":"a@b.io","role":null,"ttl_seconds":600}`, []string{"email", "ttl_seconds"}},
		{`{"inner":"AQID","keep":true,"epoch":4294967295}`, []string{"inner", "keep", "epoch"}},
		{`{"any":[{},{}]}`, []string{"any"}},
		{`{"email":"\ud83d\ude00 \\ud800 \"\u00e9"}`, []string{"email"}},
	}
	for _, c := range ok {
		var r req
		present, err := decodeStrict([]byte(c.in), &r)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if len(present) != len(c.present) {
			t.Fatalf("%s: present %v", c.in, present)
		}
		for _, k := range c.present {
			if !present[k] {
				t.Fatalf("%s: %s not present", c.in, k)
			}
		}
	}
	bad := []struct {
		in    string
		slug  api.ProblemType
		field string
	}{
		{``, api.PMalformedJSON, ""},
		{`null`, api.PMalformedJSON, ""},
		{`[]`, api.PMalformedJSON, ""},
		{`"x"`, api.PMalformedJSON, ""},
		{`{`, api.PMalformedJSON, ""},
		{`{"email":"a"`, api.PMalformedJSON, ""},
		{`{} {}`, api.PMalformedJSON, ""},
		{`{}x`, api.PMalformedJSON, ""},
		{`{"email":"a","email":"b"}`, api.PMalformedJSON, ""},
		{`{"any":[{"a":1,"a":2}]}`, api.PMalformedJSON, ""},
		{`{"any":[[[[]]]]}`, api.PMalformedJSON, ""},
		{"{\"email\":\"\xc3\x28\"}", api.PMalformedJSON, ""},
		{`{"email":"\ud800"}`, api.PMalformedJSON, ""},
		{`{"email":"\udc00\ud800"}`, api.PMalformedJSON, ""},
		{`{"email":"x\ud83dy"}`, api.PMalformedJSON, ""},
		{`{"Email":"a@b.io"}`, api.PInvalidField, "Email"},
		{`{"EMAIL":"a@b.io"}`, api.PInvalidField, "EMAIL"},
		{`{"other":1}`, api.PInvalidField, "other"},
		{`{"email":5}`, api.PInvalidField, "email"},
		{`{"epoch":1.5}`, api.PInvalidField, "epoch"},
		{`{"epoch":1e3}`, api.PInvalidField, "epoch"},
		{`{"epoch":-1}`, api.PInvalidField, "epoch"},
		{`{"epoch":4294967296}`, api.PInvalidField, "epoch"},
		{`{"keep":"true"}`, api.PInvalidField, "keep"},
		{`{"inner":"AQI="}`, api.PInvalidField, "inner"},
		{`{"inner":"AQ\nID"}`, api.PInvalidField, "inner"},
		{`{"inner":"AR"}`, api.PInvalidField, "inner"}, // non-canonical trailing bits
	}
	for _, c := range bad {
		var r req
		_, err := decodeStrict([]byte(c.in), &r)
		var de *decodeError
		if !errors.As(err, &de) || de.slug != c.slug || de.field != c.field {
			t.Fatalf("%q: got %v, want %s %q", c.in, err, c.slug, c.field)
		}
	}
	if err := require(map[string]bool{"a": true}, "a", "b"); err == nil || err.(*decodeError).field != "b" {
		t.Fatalf("require: %v", err)
	}
}

// FuzzDecodeStrict: no input panics the decoder; what it accepts is one
// valid JSON object without duplicate names, and decodes the same way
// again after re-encoding.
func FuzzDecodeStrict(f *testing.F) {
	type req struct {
		Email string    `json:"email"`
		Role  *api.Role `json:"role,omitempty"`
		TTL   *int64    `json:"ttl_seconds,omitempty"`
		Inner api.Bytes `json:"inner"`
		Keep  bool      `json:"keep"`
		Epoch uint32    `json:"epoch"`
		Text  string    `json:"text"`
	}
	for _, s := range []string{`{}`, `{"email":"a@b.io","keep":true}`, `{"inner":"AQID","epoch":7}`, `{"text":"capy-blob 1\n"}`,
		`{"email":"a","email":"b"}`, `[1,{"a":[{}]}]`, `{"role":null}`,
		`{ "text" : "a\u00e9\n" , "x": {"y": [1, {"z": "w"}]}, "keep" :false }`, `{"a":[],"b":{},"text":"t"}`,
		"{ \"email\" :\t\"a@b.io\" ,\n \"keep\" : true, \"inner\": \"AQID\" }"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r req
		present, err := decodeStrict(data, &r)
		if err != nil {
			var de *decodeError
			if !errors.As(err, &de) {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if !json.Valid(data) || !strings.HasPrefix(strings.TrimSpace(string(data)), "{") {
			t.Fatalf("accepted %q", data)
		}
		// What it accepts, encoding/json decodes to the same values, and
		// each member's raw text is the one encoding/json sees.
		var ref req
		if err := json.Unmarshal(data, &ref); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", data, err)
		}
		if a, b := mustJSON(t, r), mustJSON(t, ref); a != b {
			t.Fatalf("%q decoded as %s, encoding/json says %s", data, a, b)
		}
		members, err := scanObject(data)
		if err != nil {
			t.Fatalf("scanObject refuses what decodeStrict accepted: %v", err)
		}
		var raws map[string]json.RawMessage
		if err := json.Unmarshal(data, &raws); err != nil {
			t.Fatal(err)
		}
		if len(members) != len(raws) {
			t.Fatalf("%q: %d members, encoding/json sees %d", data, len(members), len(raws))
		}
		for _, m := range members {
			if string(m.raw) != string(raws[m.name]) {
				t.Fatalf("%q: member %q raw %q, encoding/json %q", data, m.name, m.raw, raws[m.name])
			}
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var r2 req
		if _, err := decodeStrict(again, &r2); err != nil {
			t.Fatalf("re-encoded %s refused: %v", again, err)
		}
		b1, _ := json.Marshal(r2)
		if string(b1) != string(again) {
			t.Fatalf("round trip %s != %s", b1, again)
		}
		_ = present
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCheckBlob(t *testing.T) {
	if _, err := checkBlob(strings.Repeat("a", 8<<20+1)); err == nil {
		t.Fatal("oversized blob accepted")
	}
	for text, line := range map[string]int{
		"capy-blob 1\n":             2,
		"capy-blob 2\nmanifest\n":   1,
		"capy-blob 1\nmanifest\n":   2,
		"capy-blob 1\x00\n":         1,
		"capy-blob 1\nmanifest\r\n": 2,
	} {
		_, err := checkBlob(text)
		var p *problemError
		if !errors.As(err, &p) || p.slug != api.PBadBlob || p.line == nil || *p.line != line {
			t.Fatalf("%q: %v (line %v), want line %d", text, err, p, line)
		}
	}
}

// FuzzCheckBlob: the shape check never panics, and what it accepts
// wrap.ParseBlob accepts too (they must not disagree).
func FuzzCheckBlob(f *testing.F) {
	f.Add("capy-blob 1\nmanifest 1 1 - " + strings.Repeat("A", 86) + "\n")
	f.Add("capy-blob 1\nmanifest 1 2 " + strings.Repeat("ab", 32) + " " + strings.Repeat("A", 86) + "\ncapy:abcde:" + strings.Repeat("A", 40) + "\n")
	f.Add("capy-blob 1\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		b, err := checkBlob(text)
		if err != nil {
			var p *problemError
			if !errors.As(err, &p) || p.slug != api.PBadBlob {
				t.Fatalf("error %v", err)
			}
			return
		}
		if b.Version < 1 || b.Version > maxJSONSafe || b.Epoch < 1 {
			t.Fatalf("accepted manifest %+v", b.Manifest)
		}
	})
}

// FuzzParsePage: no cursor or limit panics the page parser, and an
// accepted cursor is one this list issued.
func FuzzParsePage(f *testing.F) {
	p := pageReq{list: "orgs", limit: 5}
	f.Add(*p.cursor("20310304T050607.000000000|org_x"), "5")
	f.Add("", "200")
	f.Add("!!", "0")
	f.Fuzz(func(t *testing.T, cursor, limit string) {
		q := map[string]string{"cursor": cursor, "limit": limit}
		got, err := parsePage(q, "orgs", 50, 200)
		if err != nil {
			return
		}
		if got.limit < 1 || got.limit > 200 || !got.has || *got.cursor(got.after) != cursor {
			t.Fatalf("accepted %q %q as %+v", cursor, limit, got)
		}
	})
}

// TestDecodeStrictSpacing: white space around names, colons and values
// does not change what is decoded, for scalar, string and nested values.
func TestDecodeStrictSpacing(t *testing.T) {
	type req struct {
		Email string    `json:"email"`
		Keep  bool      `json:"keep"`
		Inner api.Bytes `json:"inner"`
		Roles []string  `json:"roles"`
		Text  string    `json:"text"`
	}
	for _, body := range []string{
		`{"email":"a@b.io","keep":true,"inner":"AQID","roles":["x","y"],"text":"t\u00e9\n"}`,
		"{ \"email\" :\t\"a@b.io\" ,\n \"keep\" : true, \"inner\":  \"AQID\" , \"roles\" : [ \"x\" , \"y\" ] ,\"text\" :\"t\\u00e9\\n\"\r\n}",
	} {
		var r req
		if _, err := decodeStrict([]byte(body), &r); err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if r.Email != "a@b.io" || !r.Keep || string(r.Inner) != "\x01\x02\x03" || strings.Join(r.Roles, ",") != "x,y" || r.Text != "t\u00e9\n" {
			t.Fatalf("%q decoded as %+v", body, r)
		}
	}
}
