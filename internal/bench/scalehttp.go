package bench

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// scaleListEndpoints are the first and the deepest page of each list the
// scale generator made long, read through capyd as the largest org's
// owner: the long environment's versions (200 a page), the org's audit
// chain (1,000 a page) and its members (200 a page). The deepest page's
// cursor is found by walking the pages once (not timed).
func scaleListEndpoints(service string, f *ScaleFill) ([]Endpoint, error) {
	x := f.Result
	if len(x.BigOwnerSession) != 32 {
		return nil, fmt.Errorf("no session of the largest org's owner")
	}
	tok := "capys_" + base64.RawURLEncoding.EncodeToString(x.BigOwnerSession)
	org := service + "/v1/orgs/" + url.PathEscape(x.BigOrg)
	versions := org + "/projects/" + url.PathEscape(x.BigProject) + "/envs/" + url.PathEscape(x.BigEnv) + "/versions?limit=200"
	members := org + "/members?limit=200"
	audit := org + "/audit?limit=1000"
	var out []Endpoint
	for _, l := range []struct{ name, url string }{{"versions", versions}, {"members", members}} {
		last, pages, err := lastPage(l.url, tok)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.name, err)
		}
		out = append(out,
			Endpoint{Name: l.name + " list, first page", Method: http.MethodGet, URL: l.url, Token: tok},
			Endpoint{Name: fmt.Sprintf("%s list, last page (%d of them)", l.name, pages), Method: http.MethodGet, URL: last, Token: tok})
	}
	var first struct {
		Head struct{ Seq int64 } `json:"head"`
	}
	if err := getJSON(audit, tok, &first); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	from := max(1, first.Head.Seq-999)
	out = append(out,
		Endpoint{Name: "audit list, first page", Method: http.MethodGet, URL: audit, Token: tok},
		Endpoint{Name: fmt.Sprintf("audit list, last page (from seq %d of %d)", from, first.Head.Seq), Method: http.MethodGet,
			URL: fmt.Sprintf("%s&from_seq=%d", audit, from), Token: tok})
	return out, nil
}

// lastPage walks a list's pages and returns the URL of its last one.
func lastPage(first, tok string) (string, int, error) {
	u := first
	for pages := 1; pages <= 5000; pages++ {
		var p struct {
			Next *string `json:"next_cursor"`
		}
		if err := getJSON(u, tok, &p); err != nil {
			return "", 0, err
		}
		if p.Next == nil {
			return u, pages, nil
		}
		u = first + "&cursor=" + url.QueryEscape(*p.Next)
	}
	return "", 0, fmt.Errorf("more than 5,000 pages")
}

func getJSON(u, tok string, v any) error {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
