package workspace

import "math"

// readProjectFast reads project.json when it is in the plain form
// SaveProject writes: objects, strings of printable ASCII without
// escapes, unsigned decimal integers, the known keys spelled as written.
// ok is false for anything else, even valid JSON (an escape, a non-ASCII
// path, a null, an unknown key), which the caller gives to encoding/json,
// the definition of the format (FuzzProjectFast checks that whatever this
// accepts, encoding/json reads to the same Project).
//
// It exists for start-up: every command reads project.json, and
// encoding/json's first decode of a type in a process (reflection, and
// building the type's field tables and encoders) cost ~0.2 ms of each
// capy command, more than the rest of finding the project (decision 102).
func readProjectFast(data []byte) (p Project, ok bool) {
	s := fastScanner{data: data}
	ok = s.object(func(key string) bool {
		switch key {
		case "version":
			n, ok := s.uint(math.MaxInt)
			p.Version = int(n)
			return ok
		case "service":
			return s.str(&p.Service)
		case "org":
			return s.str(&p.Org)
		case "project":
			return s.str(&p.Project)
		case "default_environment":
			return s.str(&p.DefaultEnvironment)
		case "environments":
			if p.Environments == nil {
				p.Environments = map[string]EnvPin{}
			}
			return s.object(func(name string) bool {
				var e EnvPin // a name given twice: the last wins whole, as in encoding/json
				ok := s.object(func(key string) bool {
					switch key {
					case "id":
						return s.str(&e.ID)
					case "file":
						return s.str(&e.File)
					case "epoch":
						n, ok := s.uint(math.MaxUint32)
						e.Epoch = uint32(n)
						return ok
					case "signing_key":
						return s.str(&e.SigningKey)
					case "recipient":
						return s.str(&e.Recipient)
					case "local":
						return s.str(&e.Local)
					}
					return false
				})
				p.Environments[name] = e
				return ok
			})
		}
		return false
	})
	s.space()
	return p, ok && s.i == len(s.data)
}

// readStateFast is readProjectFast for state.json (State), which
// LoadState gives to json.Unmarshal otherwise.
func readStateFast(data []byte) (st State, ok bool) {
	s := fastScanner{data: data}
	ok = s.object(func(key string) bool {
		switch key {
		case "version":
			n, ok := s.uint(math.MaxInt)
			st.Version = int(n)
			return ok
		case "current":
			return s.str(&st.Current)
		case "environments":
			if st.Environments == nil {
				st.Environments = map[string]EnvState{}
			}
			return s.object(func(id string) bool {
				var e EnvState
				ok := s.object(func(key string) bool {
					var n uint64
					var ok bool
					switch key {
					case "epoch":
						n, ok = s.uint(math.MaxUint32)
						e.Epoch = uint32(n)
					case "base_version":
						e.BaseVersion, ok = s.uint(math.MaxUint64)
					case "base_id":
						ok = s.str(&e.BaseID)
					case "seen_version":
						e.SeenVersion, ok = s.uint(math.MaxUint64)
					case "seen_id":
						ok = s.str(&e.SeenID)
					default:
						return false
					}
					return ok
				})
				st.Environments[id] = e
				return ok
			})
		}
		return false
	})
	s.space()
	return st, ok && s.i == len(s.data)
}

// fastScanner walks the plain JSON subset of readProjectFast.
type fastScanner struct {
	data []byte
	i    int
}

func (s *fastScanner) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next consumes c, after white space, if it comes next.
func (s *fastScanner) next(c byte) bool {
	s.space()
	if s.i < len(s.data) && s.data[s.i] == c {
		s.i++
		return true
	}
	return false
}

// object reads {"key": value, …}, calling member for each key with the
// scanner on the value.
func (s *fastScanner) object(member func(key string) bool) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	for {
		var key string
		if !s.str(&key) || !s.next(':') || !member(key) {
			return false
		}
		if s.next('}') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// str reads a string of printable ASCII without escapes into dst.
func (s *fastScanner) str(dst *string) bool {
	if !s.next('"') {
		return false
	}
	start := s.i
	for ; s.i < len(s.data); s.i++ {
		switch c := s.data[s.i]; {
		case c == '"':
			*dst = string(s.data[start:s.i])
			s.i++
			return true
		case c == '\\' || c < 0x20 || c > 0x7e:
			return false
		}
	}
	return false
}

// uint reads an unsigned decimal integer without leading zeros, at most
// max, that is not the start of a fraction or an exponent.
func (s *fastScanner) uint(max uint64) (uint64, bool) {
	s.space()
	start := s.i
	var n uint64
	for ; s.i < len(s.data) && s.data[s.i] >= '0' && s.data[s.i] <= '9'; s.i++ {
		d := uint64(s.data[s.i] - '0')
		if n > (max-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	digits := s.i - start
	if digits == 0 || (digits > 1 && s.data[start] == '0') {
		return 0, false
	}
	if s.i < len(s.data) {
		switch s.data[s.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	return n, true
}
