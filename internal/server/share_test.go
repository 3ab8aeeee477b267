package server

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/wrap"
)

func rsaSPKI(t *testing.T, bits int) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	b, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var jsonHdr = map[string]string{"Content-Type": "application/json"}

func authHdr(tok string) map[string]string {
	return map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + tok}
}

// TestShareRoutes walks a request and a link share through the routes,
// with the refusals of each (SQLite; the store's rules run on both in
// storetest).
func TestShareRoutes(t *testing.T) {
	e := newEnv(t, "sqlite", Config{}, false)
	w := e.world()
	spki := rsaSPKI(t, 2048)
	body := func(v any) []byte { return []byte(mustJSON(t, v)) }

	for what, key := range map[string][]byte{"not a key": []byte("garbage"), "RSA-1024": rsaSPKI(t, 1024)} {
		resp, b := e.raw("POST", "/v1/share-requests", body(map[string]string{"public_key": wrap.B64.EncodeToString(key)}), jsonHdr)
		if p := rawProblem(t, resp, b, api.PInvalidField); p["field"] != "public_key" {
			t.Fatalf("%s: %s", what, b)
		}
	}
	resp, b := e.raw("POST", "/v1/share-requests", body(map[string]string{"public_key": wrap.B64.EncodeToString(spki)}), jsonHdr)
	var created api.ShareRequestResponse
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &created) != nil || ident.CheckShareID(created.Request.ID) != nil {
		t.Fatalf("create request: %d %s", resp.StatusCode, b)
	}
	id := created.Request.ID

	resp, b = e.raw("GET", "/v1/share-requests/"+id, nil, nil)
	rawProblem(t, resp, b, api.PUnauthenticated)
	resp, b = e.raw("GET", "/v1/share-requests/NOT-AN-ID!", nil, authHdr(w.member.Token))
	rawProblem(t, resp, b, api.PNotFound)
	resp, b = e.raw("GET", "/v1/share-requests/"+id, nil, authHdr(w.member.Token))
	var got api.ShareRequestResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &got) != nil || string(got.Request.PublicKey) != string(spki) {
		t.Fatalf("get request: %d %s", resp.StatusCode, b)
	}

	// The recipient's poll: pending.
	resp, b = e.raw("POST", "/v1/shares/"+id+"/open", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"state":"pending"`) || strings.Contains(string(b), `"blob"`) {
		t.Fatalf("pending open: %d %s", resp.StatusCode, b)
	}

	shares := "/v1/orgs/" + w.org + "/shares"
	blob := wrap.B64.EncodeToString([]byte("capyshare\x01 sealed elsewhere"))
	for what, c := range map[string]struct {
		req   string
		field string
	}{
		"views on a request": {`{"id":"` + id + `","kind":"request","blob":"` + blob + `","views":2}`, "views"},
		"101 views":          {`{"id":"` + ident.NewShareID() + `","kind":"link","blob":"` + blob + `","views":101}`, "views"},
		"ttl past 7 days":    {`{"id":"` + ident.NewShareID() + `","kind":"link","blob":"` + blob + `","ttl_seconds":604801}`, "ttl_seconds"},
		"bad id":             {`{"id":"x","kind":"link","blob":"` + blob + `"}`, "id"},
		"bad kind":           {`{"id":"` + id + `","kind":"mail","blob":"` + blob + `"}`, "kind"},
		"no blob":            {`{"id":"` + id + `","kind":"request"}`, "blob"},
	} {
		resp, b := e.raw("POST", shares, []byte(c.req), authHdr(w.member.Token))
		if p := rawProblem(t, resp, b, api.PInvalidField); p["field"] != c.field {
			t.Fatalf("%s: %s", what, b)
		}
	}
	answer := []byte(`{"id":"` + id + `","kind":"request","blob":"` + blob + `","ttl_seconds":3600}`)
	if resp, b := e.raw("POST", shares, answer, authHdr(w.member.Token)); resp.StatusCode != http.StatusCreated {
		t.Fatalf("answer: %d %s", resp.StatusCode, b)
	}
	resp, b = e.raw("POST", shares, answer, authHdr(w.admin.Token))
	rawProblem(t, resp, b, api.PShareAnswered)
	resp, b = e.raw("GET", "/v1/share-requests/"+id, nil, authHdr(w.member.Token))
	rawProblem(t, resp, b, api.PShareAnswered)
	if ev := e.lastAudit(w); ev.Action != "share-create" || ev.Actor != w.member.ID || !strings.HasPrefix(ev.Target, id+" kind=request views=1 ") {
		t.Fatalf("audit %+v", ev)
	}

	resp, b = e.raw("POST", "/v1/shares/"+id+"/open", nil, nil)
	var opened api.OpenShareResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &opened) != nil || opened.State != "opened" || wrap.B64.EncodeToString(opened.Blob) != blob {
		t.Fatalf("open: %d %s", resp.StatusCode, b)
	}
	resp, b = e.raw("POST", "/v1/shares/"+id+"/open", nil, nil)
	rawProblem(t, resp, b, api.PShareOpened)
	resp, b = e.raw("POST", "/v1/shares/"+ident.NewShareID()+"/open", nil, nil)
	rawProblem(t, resp, b, api.PNotFound)

	// The pages: static, with the security headers.
	for path, ctype := range map[string]string{"/share": "text/html", "/s/" + id: "text/html", "/assets/share.js": "text/javascript", "/assets/capy.css": "text/css"} {
		resp, b := e.raw("GET", path, nil, nil)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || len(b) == 0 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if resp.Header.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Fatalf("GET %s: headers %v", path, resp.Header)
		}
	}
	if resp, _ := e.raw("GET", "/assets/", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the asset directory is listed: %d", resp.StatusCode)
	}
}

// TestShareRequestsRateLimited: registering requests without an account
// is limited per IP.
func TestShareRequestsRateLimited(t *testing.T) {
	e := newEnv(t, "sqlite", Config{}, true)
	req := []byte(mustJSON(t, map[string]string{"public_key": wrap.B64.EncodeToString(rsaSPKI(t, 2048))}))
	for i := 0; i < bucketShareRequestIP.capacity; i++ {
		if resp, b := e.raw("POST", "/v1/share-requests", req, jsonHdr); resp.StatusCode != http.StatusCreated {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, b)
		}
	}
	resp, b := e.raw("POST", "/v1/share-requests", req, jsonHdr)
	rawProblem(t, resp, b, api.PRateLimited)
}
