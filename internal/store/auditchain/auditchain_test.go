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
