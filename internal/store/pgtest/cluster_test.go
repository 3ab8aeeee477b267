package pgtest

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// A private cluster survives Stop/Start and Kill/Start with its data, is
// unreachable while stopped, and is removed when its test ends.
func TestCluster(t *testing.T) {
	var dir string
	t.Run("life", func(t *testing.T) {
		c := StartCluster(t)
		u, err := url.Parse(c.URL())
		if err != nil || u.Scheme != "postgres" || u.Path != "/capy" || u.Query().Get("host") == "" {
			t.Fatalf("URL %q: %v", c.URL(), err)
		}
		dir = u.Query().Get("host")
		exec := func(q string) error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := pgx.Connect(ctx, c.URL())
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, q)
			return err
		}
		if err := exec(`CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)`); err != nil {
			t.Fatal(err)
		}
		for _, stop := range []func(){c.Stop, c.Kill} {
			stop()
			if c.Running() {
				t.Fatal("Running after stop")
			}
			if err := exec(`SELECT 1`); err == nil {
				t.Fatal("a stopped cluster accepts connections")
			}
			c.Start()
			if err := exec(`INSERT INTO kept SELECT n + 1 FROM kept`); err != nil {
				t.Fatalf("after restart: %v", err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn := Conn(t, c.URL())
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM kept`).Scan(&n); err != nil || n != 4 {
			t.Fatalf("rows after two restarts: %d, %v; want 4", n, err)
		}
	})
	if dir == "" {
		t.Skip("no cluster")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s still there after the test: %v", dir, err)
	}
	if !strings.HasPrefix(dir, os.TempDir()) {
		t.Fatalf("cluster outside the temporary directory: %s", dir)
	}
}
