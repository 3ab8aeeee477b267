package slip39

// The RS1024 checksum of SLIP-39: a Reed-Solomon code over GF(1024) whose
// three check words detect any error in up to three words. The
// customization string is fed in before the data, so a share of the
// extendable format ("shamir_extendable") never passes as one of the
// original format ("shamir") and the other way round.

const (
	customization           = "shamir"
	customizationExtendable = "shamir_extendable"
	checksumWords           = 3
)

var rs1024Gen = [10]uint32{0xe0e040, 0x1c1c080, 0x3838100, 0x7070200, 0xe0e0009, 0x1c0c2412, 0x38086c24, 0x3090fc48, 0x21b1f890, 0x3f3f120}

func rs1024Polymod(cs string, values []int) uint32 {
	chk := uint32(1)
	step := func(v uint32) {
		b := chk >> 20
		chk = (chk&0xfffff)<<10 ^ v
		for i := range 10 {
			if b>>i&1 == 1 {
				chk ^= rs1024Gen[i]
			}
		}
	}
	for i := 0; i < len(cs); i++ {
		step(uint32(cs[i]))
	}
	for _, v := range values {
		step(uint32(v))
	}
	return chk
}

func customizationFor(extendable bool) string {
	if extendable {
		return customizationExtendable
	}
	return customization
}

// rs1024Checksum returns the three check words for data.
func rs1024Checksum(extendable bool, data []int) [checksumWords]int {
	pm := rs1024Polymod(customizationFor(extendable), append(append([]int(nil), data...), 0, 0, 0)) ^ 1
	return [checksumWords]int{int(pm >> 20 & 1023), int(pm >> 10 & 1023), int(pm & 1023)}
}

// rs1024Valid reports whether words (data and check words) carry a valid
// checksum.
func rs1024Valid(extendable bool, words []int) bool {
	return rs1024Polymod(customizationFor(extendable), words) == 1
}
