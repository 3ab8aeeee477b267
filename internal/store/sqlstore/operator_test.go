package sqlstore

import "testing"

func TestOperatorSQLGuard(t *testing.T) {
	for _, q := range []string{
		`SELECT blob FROM invites`,
		`SELECT substr(BLOB, 2, 4) FROM deploys`,
		`SELECT id FROM deploys WHERE verifier = $1`,
		`SELECT s.token_hash FROM sessions s`,
		`SELECT code_hash FROM login_codes`,
		`SELECT signing_key FROM environments`,
		`SELECT o.key_check FROM orgs o`,
		`SELECT * FROM users`,
		`SELECT u.* FROM users u`,
		`UPDATE invites SET blob = $1`,
	} {
		if err := checkOperatorSQL(q); err == nil {
			t.Errorf("allowed: %s", q)
		}
	}
	for _, q := range []string{
		`SELECT count(*) FROM invites`,
		`SELECT COUNT(*) FROM env_versions`,
		`SELECT id, email, disabled_at FROM users WHERE email = $1`,
		`SELECT seq, hash FROM audit_heads WHERE org_id = $1 FOR NO KEY UPDATE OF audit_heads`,
		`DELETE FROM sessions WHERE user_id = $1`,
		`SELECT blobby FROM x`, // whole words only
	} {
		if err := checkOperatorSQL(q); err != nil {
			t.Errorf("refused: %s: %v", q, err)
		}
	}
}
