package auditchain

import (
	"errors"
	"testing"
	"time"
)

// The expected hashes were computed independently with the shell:
//
//	printf 'capy-audit 1\n%s\n1\n2031-03-04T05:06:07.123456789Z\nusr_…\norg.create\norg_…\nok\n' "$GENESIS" | sha256sum
func TestKnownAnswers(t *testing.T) {
	user := "usr_aaaaaaaaaaaaaaaaaaaaaaaaaa"
	e1 := Event{Seq: 1, Time: time.Date(2031, 3, 4, 5, 6, 7, 123456789, time.UTC), Actor: user,
		Action: "org.create", Target: "org_bbbbbbbbbbbbbbbbbbbbbbbbbb", Result: "ok"}
	h1 := Hash(Genesis, e1)
	if want := "31d0cd345174216d2e76ee2daf72605742e93e67fa5d1537e65f9f055354caf8"; h1 != want {
		t.Fatalf("first link %s, want %s", h1, want)
	}
	// A time in another zone and with zero nanoseconds is written in UTC
	// with nine digits.
	e2 := Event{Seq: 2, Time: time.Date(2031, 3, 4, 6, 6, 8, 0, time.FixedZone("CET", 3600)), Actor: user,
		Action: "co-decrypt", Target: user, Result: "denied:membership-revoked"}
	if want := "4b797338ba21aa5f3a980b140560249827418ae63f82dcece91f0e98d0fe795f"; Hash(h1, e2) != want {
		t.Fatalf("second link %s, want %s", Hash(h1, e2), want)
	}
}

func TestTimeFormat(t *testing.T) {
	tm := time.Date(2031, 1, 2, 3, 4, 5, 6000, time.UTC)
	s := FormatTime(tm)
	if s != "2031-01-02T03:04:05.000006000Z" {
		t.Fatalf("FormatTime = %s", s)
	}
	back, err := ParseTime(s)
	if err != nil || !back.Equal(tm) {
		t.Fatalf("ParseTime(%s) = %v, %v", s, back, err)
	}
	for _, bad := range []string{"2031-01-02T03:04:05.000006Z", "2031-01-02T03:04:05.000006000+00:00", "2031-01-02 03:04:05.000006000Z", ""} {
		if _, err := ParseTime(bad); !errors.Is(err, ErrBadField) {
			t.Errorf("ParseTime(%q) accepted", bad)
		}
	}
}

func TestCheck(t *testing.T) {
	ok := Event{Seq: 1, Actor: "a", Action: "b", Target: "c", Result: "d"}
	if ok.Check() != nil {
		t.Fatal("good event refused")
	}
	for _, e := range []Event{
		{Seq: 0, Actor: "a"},
		{Seq: 1, Actor: "a\nb"},
		{Seq: 1, Target: "x\n"},
		{Seq: 1, Result: "\n"},
		{Seq: 1, Action: "\n"},
	} {
		if !errors.Is(e.Check(), ErrBadField) {
			t.Errorf("%+v accepted", e)
		}
	}
	if !ValidHash(Genesis) || ValidHash("ABC") || ValidHash(Genesis[:63]+"G") {
		t.Fatal("ValidHash")
	}
}

// The verifier accepts an honest chain and refuses each way of breaking
// it: a skipped or repeated seq, a previous hash that is not the last
// row's, a hash that is not the content's, a newline in a field.
func TestVerifier(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	type row struct {
		e          Event
		prev, hash string
	}
	var rows []row
	prev := Genesis
	for i := int64(1); i <= 4; i++ {
		e := Event{Seq: i, Time: t0.Add(time.Duration(i) * time.Second), Actor: "usr_a", Action: "co-decrypt", Target: "org_x", Result: "ok"}
		h := Hash(prev, e)
		rows = append(rows, row{e, prev, h})
		prev = h
	}
	v := NewVerifier()
	for _, r := range rows {
		if err := v.Next(r.e, r.prev, r.hash); err != nil {
			t.Fatalf("honest row #%d: %v", r.e.Seq, err)
		}
	}
	if seq, h := v.Head(); seq != 4 || h != prev {
		t.Fatalf("head %d %s", seq, h)
	}
	for name, mutate := range map[string]func(rs []row){
		"seq skipped":       func(rs []row) { rs[2].e.Seq = 4 },
		"prev hash forged":  func(rs []row) { rs[2].prev = rs[0].hash },
		"content changed":   func(rs []row) { rs[2].e.Actor = "usr_b" },
		"hash forged":       func(rs []row) { rs[2].hash = Genesis },
		"newline in target": func(rs []row) { rs[2].e.Target = "org_x\nok" },
	} {
		rs := append([]row(nil), rows...)
		mutate(rs)
		v := NewVerifier()
		var err error
		for _, r := range rs {
			if err = v.Next(r.e, r.prev, r.hash); err != nil {
				break
			}
		}
		if !errors.Is(err, ErrBroken) {
			t.Errorf("%s: %v, want ErrBroken", name, err)
		}
		if seq, _ := v.Head(); seq != 2 {
			t.Errorf("%s: verified up to #%d, want #2", name, seq)
		}
	}
}
