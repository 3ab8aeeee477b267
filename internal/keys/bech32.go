package keys

import "strings"

// bech32Encode is BIP-173 Bech32 without its 90-character limit, as age
// uses it for keys. age's own encoder is internal to its module; age parses
// what this writes (ParseHybridIdentity), so a mistake here fails loudly.
func bech32Encode(hrp string, data []byte) string {
	const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	hrp = strings.ToLower(hrp)
	// Regroup 8-bit bytes into 5-bit groups, padding the last one.
	var groups []byte
	acc, bits := 0, 0
	for _, b := range data {
		acc = acc<<8 | int(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			groups = append(groups, byte(acc>>bits&31))
		}
	}
	if bits > 0 {
		groups = append(groups, byte(acc<<(5-bits)&31))
	}
	values := make([]byte, 0, 2*len(hrp)+1+len(groups)+6)
	for i := 0; i < len(hrp); i++ {
		values = append(values, hrp[i]>>5)
	}
	values = append(values, 0)
	for i := 0; i < len(hrp); i++ {
		values = append(values, hrp[i]&31)
	}
	values = append(values, groups...)
	values = append(values, 0, 0, 0, 0, 0, 0)
	mod := bech32Polymod(values) ^ 1
	var out strings.Builder
	out.WriteString(hrp)
	out.WriteByte('1')
	for _, g := range groups {
		out.WriteByte(charset[g])
	}
	for i := 0; i < 6; i++ {
		out.WriteByte(charset[mod>>(5*(5-i))&31])
	}
	return out.String()
}

func bech32Polymod(values []byte) uint32 {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	chk := uint32(1)
	for _, v := range values {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i := 0; i < 5; i++ {
			if top>>i&1 == 1 {
				chk ^= gen[i]
			}
		}
	}
	return chk
}
