package server

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/wrap"
)

func TestPushAndPull(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		if h := must(w.member.Head(e.ctx, w.org, w.project, w.env)); h != nil {
			t.Fatalf("head before the first push %+v", h)
		}
		text := w.blob(t, 1, 1, wrap.NoParent, nil)
		res := must(w.member.Push(e.ctx, w.org, w.project, w.env, text))
		id := wrap.BlobID([]byte(text))
		if res.Blob.Version != 1 || res.Blob.ID != id || res.Blob.Parent != "-" || res.Blob.Size != len(text) ||
			res.Blob.CreatedBy.ID != w.member.ID || res.Blob.CreatedBy.Email != w.member.Email {
			t.Fatalf("push %+v", res)
		}
		last := e.lastAudit(w)
		if last.Action != "push" || last.Target != w.env+" version=1 id="+id || last.Seq != res.AuditHead.Seq || last.Hash != res.AuditHead.Hash {
			t.Fatalf("push audit %+v / %+v", last, res.AuditHead)
		}
		head := must(w.admin.Head(e.ctx, w.org, w.project, w.env))
		if head.Text != text || head.Version != 1 || head.ID != id {
			t.Fatalf("head %+v", head)
		}
		env := must(w.member.Env(e.ctx, w.org, w.project, w.env))
		if env.Head == nil || env.Head.Version != 1 || env.Head.ID != id {
			t.Fatalf("env head %+v", env.Head)
		}
		for i := 0; i < 3; i++ {
			e.push(w, w.member)
		}
		vs := must(w.member.Versions(e.ctx, w.org, w.project, w.env, "", 3))
		if len(vs.Items) != 3 || vs.Items[0].Version != 4 || vs.NextCursor == nil {
			t.Fatalf("versions %+v", vs)
		}
		vs2 := must(w.member.Versions(e.ctx, w.org, w.project, w.env, *vs.NextCursor, 3))
		if len(vs2.Items) != 1 || vs2.Items[0].Version != 1 || vs2.NextCursor != nil {
			t.Fatalf("versions page 2 %+v", vs2)
		}
		v1 := must(w.member.Version(e.ctx, w.org, w.project, w.env, 1))
		if v1.Text != text {
			t.Fatalf("version 1 %+v", v1)
		}
		_, err := w.member.Version(e.ctx, w.org, w.project, w.env, 99)
		wantProblem(t, err, api.PNotFound, "no such version")
		resp, body := e.raw("GET", "/v1/orgs/"+w.org+"/projects/"+w.project+"/envs/"+w.env+"/versions/01", nil,
			map[string]string{"Authorization": "Bearer " + w.member.Token})
		rawProblem(t, resp, body, api.PNotFound)

		before := e.snapshot(w)
		cur := must(w.member.Env(e.ctx, w.org, w.project, w.env))
		// A stale push: 409 version-conflict carrying the current head.
		_, err = w.member.Push(e.ctx, w.org, w.project, w.env, w.blob(t, 1, 4, v1.ID, nil))
		p := wantProblem(t, err, api.PVersionConflict, "stale push")
		if p.Head == nil || p.Head.Version != cur.Head.Version || p.Head.ID != cur.Head.ID {
			t.Fatalf("conflict head %+v, want %+v", p.Head, cur.Head)
		}
		// A retried push sees its own blob as the head.
		_, err = w.member.Push(e.ctx, w.org, w.project, w.env, head.Text)
		wantProblem(t, err, api.PVersionConflict, "a retried push")
		// The wrong epoch: epoch-mismatch with the current epoch.
		_, err = w.member.Push(e.ctx, w.org, w.project, w.env, w.blob(t, 2, 5, cur.Head.ID, nil))
		if p := wantProblem(t, err, api.PEpochMismatch, "wrong epoch"); p.Epoch == nil || *p.Epoch != 1 {
			t.Fatalf("epoch %+v", p.Epoch)
		}
		// Malformed blobs: bad-blob with the line at fault.
		good := w.blob(t, 1, 5, cur.Head.ID, nil)
		lines := strings.SplitAfter(good, "\n")
		for name, c := range map[string]struct {
			text string
			line int
		}{
			"header":       {"capy-blob 2\n" + strings.Join(lines[1:], ""), 1},
			"manifest":     {lines[0] + "manifest 1 5 x sig\n" + strings.Join(lines[2:], ""), 2},
			"snippet":      {lines[0] + lines[1] + "capy:abcde:!!!\n", 3},
			"unsorted":     {lines[0] + lines[1] + lines[3] + lines[2], 4},
			"repeated":     {lines[0] + lines[1] + lines[2] + lines[2], 4},
			"no final LF":  {strings.TrimSuffix(good, "\n"), 4},
			"non-ASCII":    {lines[0] + lines[1] + "é\n", 3},
			"empty line":   {lines[0] + lines[1] + "\n" + lines[2], 3},
			"v1 as parent": {lines[0] + "manifest 1 1 " + cur.Head.ID + " " + strings.Fields(lines[1])[4] + "\n", 2},
		} {
			_, err := w.member.Push(e.ctx, w.org, w.project, w.env, c.text)
			p := wantProblem(t, err, api.PBadBlob, name)
			if p.Line == nil || *p.Line != c.line {
				t.Fatalf("%s: line %v, want %d", name, p.Line, c.line)
			}
		}
		// A version above 2^53-1 is bad-blob too.
		_, err = w.member.Push(e.ctx, w.org, w.project, w.env, lines[0]+"manifest 1 9007199254740992 "+cur.Head.ID+" "+strings.Fields(lines[1])[4]+"\n")
		wantProblem(t, err, api.PBadBlob, "huge version")
		// Strict JSON on the push body.
		auth := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + w.member.Token}
		path := "/v1/orgs/" + w.org + "/projects/" + w.project + "/envs/" + w.env + "/versions"
		enc, _ := json.Marshal(good)
		for name, c := range map[string]struct {
			body  string
			slug  api.ProblemType
			field string
		}{
			"syntax":        {`{"text":`, api.PMalformedJSON, ""},
			"trailing data": {`{"text":` + string(enc) + `} {}`, api.PMalformedJSON, ""},
			"duplicate":     {`{"text":` + string(enc) + `,"text":` + string(enc) + `}`, api.PMalformedJSON, ""},
			"case":          {`{"Text":` + string(enc) + `}`, api.PInvalidField, "Text"},
			"unknown":       {`{"text":` + string(enc) + `,"x":1}`, api.PInvalidField, "x"},
			"array":         {`[]`, api.PMalformedJSON, ""},
			"deep":          {`{"text":` + string(enc) + `,"x":[[[[1]]]]}`, api.PMalformedJSON, ""},
			"wrong type":    {`{"text":5}`, api.PInvalidField, "text"},
			"null":          {`{"text":null}`, api.PInvalidField, "text"},
			"empty":         {``, api.PMalformedJSON, ""},
			"bad utf-8":     {"{\"text\":\"\xff\"}", api.PMalformedJSON, ""},
		} {
			resp, body := e.raw("POST", path, []byte(c.body), auth)
			p := rawProblem(t, resp, body, c.slug)
			if c.field != "" && p["field"] != c.field {
				t.Fatalf("%s: field %v, want %s", name, p["field"], c.field)
			}
		}
		resp, body = e.raw("POST", path, enc, map[string]string{"Content-Type": "text/plain", "Authorization": "Bearer " + w.member.Token})
		rawProblem(t, resp, body, api.PUnsupportedMediaType)
		resp, body = e.raw("POST", path, []byte(`{"text":`+string(enc)+`}`), map[string]string{
			"Content-Type": "application/json", "Content-Encoding": "gzip", "Authorization": "Bearer " + w.member.Token})
		rawProblem(t, resp, body, api.PUnsupportedMediaType)
		// Oversized: 413 from the declared length, before reading.
		big := make([]byte, limitBlob+1)
		resp, body = e.raw("POST", path, big, auth)
		if p := rawProblem(t, resp, body, api.PBodyTooLarge); p["limit"] != float64(limitBlob) {
			t.Fatalf("limit %v", p["limit"])
		}
		resp, body = e.raw("POST", "/v1/orgs/"+w.org+"/wrap", make([]byte, limitOther+1), auth)
		rawProblem(t, resp, body, api.PBodyTooLarge)
		e.unchanged(w, before, "refused pushes")

		// A stranger and a kicked member cannot read or push.
		stranger := e.login(addr("stranger"))
		_, err = stranger.Head(e.ctx, w.org, w.project, w.env)
		wantProblem(t, err, api.PNotAMember, "stranger pull")
		must(w.admin.Kick(e.ctx, w.org, w.member.ID, false))
		_, err = w.member.Push(e.ctx, w.org, w.project, w.env, good)
		wantProblem(t, err, api.PMembershipRevoked, "push after kick")
	})
}

func TestRotate(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		e.push(w, w.member)
		cur := must(w.member.Env(e.ctx, w.org, w.project, w.env))
		_, sign2, _ := ed25519.GenerateKey(rand.Reader)
		pub2 := api.Bytes(sign2.Public().(ed25519.PublicKey))
		text := w.blob(t, 2, 2, cur.Head.ID, sign2)
		dep := e.mint(w, w.admin, 1)
		before := e.snapshot(w)
		_, err := w.member.Rotate(e.ctx, w.org, w.project, w.env, api.RotateRequest{Epoch: 2, SigningPublicKey: pub2, Text: text})
		wantProblem(t, err, api.PForbidden, "rotate by a plain member")
		_, err = w.admin.Rotate(e.ctx, w.org, w.project, w.env, api.RotateRequest{Epoch: 3, SigningPublicKey: pub2, Text: text})
		wantProblem(t, err, api.PBadBlob, "manifest epoch differs")
		_, err = w.admin.Rotate(e.ctx, w.org, w.project, w.env, api.RotateRequest{Epoch: 3, SigningPublicKey: pub2, Text: w.blob(t, 3, 2, cur.Head.ID, sign2)})
		if p := wantProblem(t, err, api.PEpochMismatch, "skipping an epoch"); *p.Epoch != 1 {
			t.Fatalf("epoch %v", *p.Epoch)
		}
		_, err = w.admin.Rotate(e.ctx, w.org, w.project, w.env, api.RotateRequest{Epoch: 2, SigningPublicKey: pub2, Text: w.blob(t, 2, 3, cur.Head.ID, sign2)})
		wantProblem(t, err, api.PVersionConflict, "rotate not on the head")
		_, err = w.admin.Rotate(e.ctx, w.org, w.project, w.env, api.RotateRequest{Epoch: 2, SigningPublicKey: cur.SigningPublicKey, Text: text})
		wantProblem(t, err, api.PInvalidField, "same signing key")
		e.unchanged(w, before, "refused rotations")

		res := must(w.admin.Rotate(e.ctx, w.org, w.project, w.env, api.RotateRequest{Epoch: 2, SigningPublicKey: pub2, Text: text}))
		if res.Env.Epoch != 2 || res.Env.RotatedAt == nil || string(res.Env.SigningPublicKey) != string(pub2) || res.Blob.Version != 2 ||
			res.Blob.Epoch != 2 || len(res.RevokedDeploys) != 1 || res.RevokedDeploys[0] != dep.ID {
			t.Fatalf("rotate %+v", res)
		}
		last := e.lastAudit(w)
		if last.Action != "env-rotate" || last.Target != w.env+" epoch=2 version=2 id="+res.Blob.ID+" deploys=1" || last.Seq != res.AuditHead.Seq {
			t.Fatalf("rotate audit %+v", last)
		}
		// A retried rotate: epoch-mismatch; the env shows the new key.
		_, err = w.admin.Rotate(e.ctx, w.org, w.project, w.env, api.RotateRequest{Epoch: 2, SigningPublicKey: pub2, Text: text})
		wantProblem(t, err, api.PEpochMismatch, "retried rotate")
		list := must(w.admin.Deploys(e.ctx, w.org, "", "", "all", "", 0))
		if len(list.Items) != 1 || list.Items[0].Status != "revoked" || *list.Items[0].RevokedReason != "rotate" {
			t.Fatalf("deploys after rotate %+v", list)
		}
	})
}
