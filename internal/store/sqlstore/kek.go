package sqlstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/capy-oss/capy/internal/store"
)

// OuterKeyUse implements store.Store: per table, one GROUP BY over the
// 4 header bytes after the version byte (substr counts from 1 in both
// dialects, on BLOB and bytea alike), in one read snapshot.
func (s *Store) OuterKeyUse(ctx context.Context) ([]store.KEKUse, error) {
	now := s.now()
	use := map[uint32]*store.KEKUse{}
	count := func(ctx context.Context, tx Tx, q string, field func(*store.KEKUse) *int64) error {
		rows, err := tx.Query(ctx, q, now)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				hdr []byte
				n   int64
			)
			if err := rows.Scan(&hdr, &n); err != nil {
				return err
			}
			if len(hdr) != 4 {
				return fmt.Errorf("sqlstore: %d stored outer blobs too short for a KEK id", n)
			}
			id := binary.BigEndian.Uint32(hdr)
			u := use[id]
			if u == nil {
				u = &store.KEKUse{KEKID: id}
				use[id] = u
			}
			*field(u) += n
		}
		return rows.Err()
	}
	err := s.db.Read(ctx, func(tx Tx) error {
		clear(use)
		if err := count(ctx, tx, `
			SELECT substr(blob, 2, 4), count(*) FROM invites
			WHERE revoked_at IS NULL AND consumed_at IS NULL AND expires_at > $1
			GROUP BY substr(blob, 2, 4)`, func(u *store.KEKUse) *int64 { return &u.Invites }); err != nil {
			return err
		}
		return count(ctx, tx, `
			SELECT substr(blob, 2, 4), count(*) FROM deploys
			WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)
			GROUP BY substr(blob, 2, 4)`, func(u *store.KEKUse) *int64 { return &u.Deploys })
	})
	if err != nil {
		return nil, err
	}
	out := make([]store.KEKUse, 0, len(use))
	for _, u := range use {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].KEKID < out[j].KEKID })
	return out, nil
}
