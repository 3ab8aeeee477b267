package envsync

import (
	"runtime"
	"sync"

	"github.com/capy-oss/capy/internal/envfile"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/wrap"
)

// sealedError is the first (in file order) sealed value that did not open.
type sealedError struct {
	entry envfile.Entry
	err   error
}

// openSealedEntries opens every sealed value among entries (by index).
// Each costs an ML-KEM-768 and an X25519 decapsulation, far more than a
// snippet's AES-GCM, so a file of many is opened on every core.
func openSealedEntries(entries []envfile.Entry, c *keys.EnvCipher) (map[int]string, *sealedError) {
	var idx []int
	for i, e := range entries {
		if wrap.IsSealed(e.Value) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil, nil
	}
	values := make([]string, len(idx))
	errs := make([]error, len(idx))
	workers := min(runtime.GOMAXPROCS(0), len(idx))
	var next sync.Mutex
	pos := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				next.Lock()
				j := pos
				pos++
				next.Unlock()
				if j >= len(idx) {
					return
				}
				values[j], errs[j] = c.OpenSealed(entries[idx[j]].Value)
			}
		})
	}
	wg.Wait()
	out := make(map[int]string, len(idx))
	for j, i := range idx {
		if errs[j] != nil {
			return nil, &sealedError{entry: entries[i], err: errs[j]}
		}
		out[i] = values[j]
	}
	return out, nil
}
