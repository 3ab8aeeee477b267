package replicas

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/e2e/e2etest"
)

// secrets are what every replica of one service shares: the KEK keyring
// and the login-code pepper (docs/server.md), and the database.
type secrets struct {
	db, kek, pepper string
}

func newSecrets(db string) secrets {
	k := make([]byte, 32)
	p := make([]byte, 32)
	_, _ = rand.Read(k)
	_, _ = rand.Read(p)
	return secrets{db: db, kek: "capyd-kek 1 1 " + hex.EncodeToString(k), pepper: hex.EncodeToString(p)}
}

// startReplicas starts n capyd processes on loopback ports against the
// shared database, concurrently (so they also race for the migration
// lock), and waits until each has logged its startup line.
func startReplicas(t *testing.T, s secrets, n int) []*replica {
	t.Helper()
	reps := make([]*replica, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], errs[i] = startReplica(t, s, fmt.Sprintf("replica%d", i+1))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return reps
}

// replica is one running capyd process (e2etest).
type replica struct{ *e2etest.Capyd }

// startReplica starts one capyd. Its process is killed (if still running)
// and its log shown (if the test failed) when the test ends.
func startReplica(t *testing.T, s secrets, name string) (*replica, error) {
	// The keys go through the environment, never argv; the data directory
	// holds only the development mail.log.
	d, err := e2etest.StartCapydErr(t, e2etest.CapydOptions{
		Name:     name,
		Database: s.db,
		Args:     []string{"--log-format", "text", "--shutdown-timeout", "5s"},
		Env:      []string{"CAPYD_KEK=" + s.kek, "CAPYD_PEPPER=" + s.pepper},
		FailureLog: func(d *e2etest.Capyd) string {
			return "(all but the access log lines of successes, at most 12000 bytes)\n" + tailString((&replica{d}).interesting(), 12000)
		},
	})
	if err != nil {
		return nil, err
	}
	return &replica{d}, nil
}

// interesting returns the log without the access log lines of successes
// and of 503s (and their warnings, which come by the hundred in an
// outage): start-up, errors and other refusals.
func (r *replica) interesting() string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(r.Log.String(), "\n") {
		if strings.Contains(l, " msg=request ") && (!strings.Contains(l, " problem=") || strings.Contains(l, " problem=unavailable")) ||
			strings.Contains(l, `msg="service unavailable"`) {
			continue
		}
		b.WriteString(l)
	}
	return b.String()
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// mailCode waits for the newest login code the development mailer of r
// wrote for email into <data-dir>/mail.log after line skip.
func (r *replica) mailCode(email string, skip int) (string, error) {
	code, err := e2etest.WaitCode(r.MailLog, email, skip, 15*time.Second)
	return strings.ReplaceAll(code, " ", ""), err
}
