package workspace

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// audit_head.json is read and rewritten by every unlock and push, and
// encoding/json spends about 0.25 ms on its 64 heads (reflection, and a
// type's first use in each process). capy writes it in one compact shape,
// which appendAuditFile makes and parseAuditFile reads by hand; anything
// else (an older capy's indented file, a hand edit) goes to
// encoding/json, which stays the definition: FuzzAuditFileFast checks
// that the hand parser never accepts a file json reads differently.

// appendAuditFile appends f as compact JSON, the shape parseAuditFile
// reads. ok is false (and nothing is appended) if a hash is not 64
// lowercase hex characters, which the hand encoder does not escape.
func appendAuditFile(b []byte, f auditFile) ([]byte, bool) {
	if !isLowerHex64(f.Hash) {
		return b, false
	}
	for _, r := range f.Recent {
		if !isLowerHex64(r.Hash) {
			return b, false
		}
	}
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, int64(f.Version), 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, f.Seq, 10)
	b = append(b, `,"hash":"`...)
	b = append(b, f.Hash...)
	b = append(b, '"')
	if f.SeenAt != nil {
		t, err := f.SeenAt.MarshalText()
		if err != nil {
			return b, false
		}
		b = append(b, `,"seen_at":"`...)
		b = append(b, t...)
		b = append(b, '"')
	}
	if len(f.Recent) > 0 {
		b = append(b, `,"recent":[`...)
		for i, r := range f.Recent {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"seq":`...)
			b = strconv.AppendUint(b, r.Seq, 10)
			b = append(b, `,"hash":"`...)
			b = append(b, r.Hash...)
			b = append(b, `"}`...)
		}
		b = append(b, ']')
	}
	return append(b, "}\n"...), true
}

// encodeAuditFile is audit_head.json's bytes: the compact shape, or
// encoding/json's for what the hand encoder does not take.
func encodeAuditFile(path string, f auditFile) ([]byte, error) {
	if b, ok := appendAuditFile(make([]byte, 0, 160+80*len(f.Recent)), f); ok {
		return b, nil
	}
	return encodeJSON(path, f)
}

// decodeAuditFile reads audit_head.json: the compact shape by hand, any
// other by encoding/json.
func decodeAuditFile(data []byte) (auditFile, error) {
	if f, ok := parseAuditFile(data); ok {
		return f, nil
	}
	var f auditFile
	err := json.Unmarshal(data, &f)
	return f, err
}

// parseAuditFile reads exactly what appendAuditFile writes with version 2
// and lowercase hex hashes. ok is false for anything else, even valid
// JSON, which the caller then gives to encoding/json.
func parseAuditFile(data []byte) (f auditFile, ok bool) {
	p := auditParser{data: data}
	if !p.lit(`{"version":2,`) {
		return f, false
	}
	f.Version = 2
	top, ok := p.seqHash()
	if !ok {
		return f, false
	}
	f.Seq, f.Hash = top.Seq, top.Hash
	if p.lit(`,"seen_at":"`) {
		end := bytes.IndexByte(p.data[p.i:], '"')
		if end < 0 {
			return f, false
		}
		var t time.Time
		// UnmarshalText is strict RFC 3339, as time's UnmarshalJSON.
		if err := t.UnmarshalText(p.data[p.i : p.i+end]); err != nil {
			return f, false
		}
		f.SeenAt = &t
		p.i += end + 1
	}
	if p.lit(`,"recent":[`) {
		for {
			if len(f.Recent) > 0 && !p.lit(",") {
				break
			}
			if !p.lit("{") {
				return f, false
			}
			r, ok := p.seqHash()
			if !ok || !p.lit("}") {
				return f, false
			}
			f.Recent = append(f.Recent, r)
		}
		if !p.lit("]") {
			return f, false
		}
	}
	if !p.lit("}") {
		return f, false
	}
	p.lit("\n")
	return f, p.i == len(p.data)
}

// auditParser walks the compact audit file.
type auditParser struct {
	data []byte
	i    int
}

// lit consumes s if the input continues with it.
func (p *auditParser) lit(s string) bool {
	if !bytes.HasPrefix(p.data[p.i:], []byte(s)) {
		return false
	}
	p.i += len(s)
	return true
}

// seqHash reads `"seq":N,"hash":"HEX"`.
func (p *auditParser) seqHash() (h AuditHead, ok bool) {
	if !p.lit(`"seq":`) {
		return h, false
	}
	if h.Seq, ok = p.uint(); !ok || !p.lit(`,"hash":"`) {
		return h, false
	}
	h.Hash, ok = p.hash()
	return h, ok
}

// uint reads a JSON integer without sign, leading zero or exponent, that
// fits in a uint64.
func (p *auditParser) uint() (uint64, bool) {
	j := p.i
	for j < len(p.data) && p.data[j] >= '0' && p.data[j] <= '9' {
		j++
	}
	if j == p.i || (p.data[p.i] == '0' && j-p.i > 1) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(p.data[p.i:j]), 10, 64)
	if err != nil {
		return 0, false
	}
	p.i = j
	return n, true
}

// hash reads 64 lowercase hex characters and the closing quote.
func (p *auditParser) hash() (string, bool) {
	if len(p.data)-p.i < 65 || p.data[p.i+64] != '"' {
		return "", false
	}
	h := string(p.data[p.i : p.i+64])
	if !isLowerHex64(h) {
		return "", false
	}
	p.i += 65
	return h, true
}
