package replicas

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/client"
)

// failover is client-side failover over a set of replicas, as a client
// behind DNS round robin (or a thin balancer without retries) does it:
// each request goes to the next replica in turn; on a connection error or
// a 503 it is sent to the next one, and so on, for a bounded time.
type failover struct {
	n        int
	next     atomic.Uint64
	inflight []atomic.Int64 // requests in flight per replica
	pushing  []atomic.Int64 // pushes by watch written to a replica and not answered yet
	watch    atomic.Pointer[user]

	mu      sync.Mutex
	classes map[string]int // failed attempts by class
	odd     []string       // failures of a kind no client should see
}

func newFailover(n int) *failover {
	return &failover{n: n, inflight: make([]atomic.Int64, n), pushing: make([]atomic.Int64, n), classes: map[string]int{}}
}

// Failure classes of one attempt on one replica.
const (
	answered    = ""            // the replica answered (success or an API problem)
	refused     = "refused"     // no connection: the request never left
	lost        = "lost"        // the connection broke: the request may have been applied
	unavailable = "unavailable" // 503 unavailable: the replica could not reach the database
)

// classify says what a failed attempt means to a client.
func classify(err error) string {
	if err == nil {
		return answered
	}
	if p := client.ProblemOf(err); p != nil {
		if p.Slug() == api.PUnavailable {
			return unavailable
		}
		return answered
	}
	var he *client.HTTPError
	if errors.As(err, &he) {
		return answered // not a problem document: the caller reports it
	}
	var oe *net.OpError
	if errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &oe) && oe.Op == "dial") {
		return refused
	}
	var ne net.Error
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || (errors.As(err, &ne) && ne.Timeout()) {
		return lost
	}
	return answered
}

// call sends op to the replicas in turn until one answers, for at most
// 15 s, starting with replica start (or the next in turn if start < 0).
// It returns the answer and whether an attempt may have reached the
// service without an answer (so a non-idempotent op may have been
// applied). push marks a push: those of the watched user that are
// written but not answered yet are counted per replica (pushing).
func (f *failover) call(ctx context.Context, u *user, start int, push bool, op func(ctx context.Context, c *client.Client) error) (err error, maybeApplied bool) {
	if start < 0 {
		start = int(f.next.Add(1))
	}
	deadline := time.Now().Add(15 * time.Second)
	for k := 0; ; k++ {
		i := (start + k) % f.n
		actx, done := ctx, func() {}
		if push && f.watch.Load() == u {
			// written turns true when the request is on the wire (or when
			// the attempt ends, whichever is first): pushing[i] counts the
			// pushes in between.
			var written atomic.Bool
			actx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) {
				if written.CompareAndSwap(false, true) {
					f.pushing[i].Add(1)
				}
			}})
			done = func() {
				if !written.CompareAndSwap(false, true) {
					f.pushing[i].Add(-1)
				}
			}
		}
		f.inflight[i].Add(1)
		err = op(actx, u.via[i])
		f.inflight[i].Add(-1)
		done()
		class := classify(err)
		if class == answered {
			return err, maybeApplied
		}
		f.record(class, err)
		if class != refused {
			maybeApplied = true
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return err, maybeApplied
		}
		if k%f.n == f.n-1 {
			time.Sleep(50 * time.Millisecond) // every replica failed: back off a little
		}
	}
}

func (f *failover) record(class string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.classes[class]++
	if class == lost && !(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)) {
		f.odd = append(f.odd, fmt.Sprintf("%s: %v", class, err))
	}
}

func (f *failover) count(class string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.classes[class]
}
