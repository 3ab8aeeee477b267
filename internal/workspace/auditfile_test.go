package workspace

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The compact file reads back through encoding/json as the same value, and
// through the hand parser too; json's MarshalIndent form (an older capy's)
// is read by the fallback.
func TestAuditFileCompactRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 7, 22, 24, 3, 303142902, time.UTC)
	files := []auditFile{
		{Version: 2, Seq: 1, Hash: hx("ab")},
		{Version: 2, Seq: 406, Hash: hx("5c"), SeenAt: &at, Recent: []AuditHead{{Seq: 343, Hash: hx("ac")}, {Seq: MaxAuditSeq, Hash: hx("0f")}}},
		{Version: 2, Seq: 1<<64 - 1, Hash: hx("00"), Recent: []AuditHead{{Seq: 0, Hash: hx("ff")}}},
	}
	for _, f := range files {
		b, ok := appendAuditFile(nil, f)
		if !ok {
			t.Fatalf("%+v not encoded", f)
		}
		var viaJSON auditFile
		if err := json.Unmarshal(b, &viaJSON); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		viaHand, ok := parseAuditFile(b)
		if !ok {
			t.Fatalf("hand parser refused its own output %s", b)
		}
		if !reflect.DeepEqual(viaJSON, f) || !reflect.DeepEqual(viaHand, f) {
			t.Fatalf("round trip of %+v: json %+v, hand %+v", f, viaJSON, viaHand)
		}
		indented, err := json.MarshalIndent(f, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := parseAuditFile(indented); ok {
			t.Fatalf("hand parser took the indented form")
		}
		if got, err := decodeAuditFile(indented); err != nil || !reflect.DeepEqual(got, f) {
			t.Fatalf("fallback read of the indented form: %+v, %v", got, err)
		}
	}
	// A hash the hand encoder does not write goes to encoding/json.
	odd := auditFile{Version: 2, Seq: 3, Hash: `a"b`}
	if _, ok := appendAuditFile(nil, odd); ok {
		t.Fatal("hand encoder took a hash that needs escaping")
	}
	b, err := encodeAuditFile("audit_head.json", odd)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodeAuditFile(b); err != nil || got.Hash != odd.Hash {
		t.Fatalf("odd hash: %+v, %v", got, err)
	}
}

// Near misses of the compact shape are refused by the hand parser and left
// to encoding/json: each of these must not read as the compact file does.
func TestAuditFileHandParserNearMisses(t *testing.T) {
	good := `{"version":2,"seq":5,"hash":"` + hx("aa") + `","recent":[{"seq":5,"hash":"` + hx("aa") + `"}]}` + "\n"
	if _, ok := parseAuditFile([]byte(good)); !ok {
		t.Fatal("the compact form is refused")
	}
	for _, bad := range []string{
		`{"version":2,"seq":05,"hash":"` + hx("aa") + `"}`,
		`{"version":2,"seq":5.0,"hash":"` + hx("aa") + `"}`,
		`{"version":2,"seq":18446744073709551616,"hash":"` + hx("aa") + `"}`,
		`{"version":2,"seq":5,"hash":"` + hx("AA") + `"}`,
		`{"version":2,"seq":5,"hash":"` + hx("aa") + `","recent":[]}`,
		`{"version":2,"seq":5,"hash":"` + hx("aa") + `","extra":1}`,
		`{"version":2,"seq":5,"hash":"` + hx("aa") + `"}}`,
		`{"version":2,"seq":5,"hash":"` + hx("aa") + `"}` + "\n\n",
		`{"version":2,"seq":5,"hash":"` + hx("aa") + `","seen_at":"2026-12-07 22:00:00Z"}`,
		`{"version":3,"seq":5,"hash":"` + hx("aa") + `"}`,
	} {
		if f, ok := parseAuditFile([]byte(bad)); ok {
			t.Errorf("hand parser took %s as %+v", bad, f)
		}
	}
}

// FuzzAuditFileFast is a differential check: whatever the hand parser
// accepts, encoding/json reads to the same value, and the hand encoder's
// output of it reads back unchanged.
func FuzzAuditFileFast(f *testing.F) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, af := range []auditFile{
		{Version: 2, Seq: 9, Hash: hx("9a"), SeenAt: &at, Recent: []AuditHead{{Seq: 8, Hash: hx("8b")}, {Seq: 9, Hash: hx("9a")}}},
		{Version: 2, Seq: 1, Hash: hx("01")},
	} {
		b, _ := appendAuditFile(nil, af)
		f.Add(b)
	}
	f.Add([]byte(`{"version":2,"seq":1,"hash":"` + hx("01") + `","seen_at":"2026-01-02T03:04:05.000000006+01:00"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := parseAuditFile(data)
		if !ok {
			return
		}
		var want auditFile
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("hand parser took %q, which encoding/json refuses: %v", data, err)
		}
		if !reflect.DeepEqual(got, want) || (got.SeenAt != nil && !got.SeenAt.Equal(*want.SeenAt)) {
			t.Fatalf("%q: hand %+v, json %+v", data, got, want)
		}
		again, ok := appendAuditFile(nil, got)
		if !ok {
			t.Fatalf("hand encoder refused %+v", got)
		}
		back, ok := parseAuditFile(again)
		if !ok || !reflect.DeepEqual(back.Recent, got.Recent) || back.Seq != got.Seq || back.Hash != got.Hash {
			t.Fatalf("re-encoding %+v gave %q", got, again)
		}
	})
}

// A damaged audit_head.json (cut short, or not JSON) is an error for every
// reader, the read ahead included, and no record rewrites it: the heads it
// held are not silently dropped.
func TestAuditFileDamaged(t *testing.T) {
	h := home(t)
	o := h.Org(service, org)
	if err := o.RecordAuditHead(AuditHead{Seq: 5, Hash: hx("aa")}); err != nil {
		t.Fatal(err)
	}
	p := scopedPath(t, h, "audit_head.json")
	good, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, damaged := range [][]byte{good[:len(good)/2], []byte("not json\n"), {}} {
		if err := os.WriteFile(p, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := o.AuditHeads(); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Fatalf("%q read as %v", damaged, err)
		}
		if err := o.RecordAuditHead(AuditHead{Seq: 6, Hash: hx("bb")}); err == nil {
			t.Fatalf("recorded over %q", damaged)
		}
		if err := o.RecordAuditHeadAhead(o.ReadAuditHeadsAhead(), AuditHead{Seq: 6, Hash: hx("bb")}); err == nil {
			t.Fatalf("recorded over %q through the read ahead", damaged)
		}
		if now, _ := os.ReadFile(p); string(now) != string(damaged) {
			t.Fatalf("the damaged file was rewritten: %q", now)
		}
	}
}
