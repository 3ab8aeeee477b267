package e2etest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// MailLine is one line of the development mailer's mail.log (mail.Dev):
// who a login code went to, and the code as mailed ("1234 5678").
type MailLine struct {
	To   string `json:"to"`
	Code string `json:"code"`
}

// MailLines reads the mail.log at path; none when it does not exist yet.
// A line that is not JSON counts as an empty MailLine, so that indexes
// are line numbers.
func MailLines(path string) []MailLine {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []MailLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l MailLine
		_ = json.Unmarshal(sc.Bytes(), &l)
		out = append(out, l)
	}
	return out
}

// NewestCode is the newest code mailed to email in the mail.log at path
// after its first skip lines, as mailed; "" when there is none.
func NewestCode(path, email string, skip int) string {
	code := ""
	for i, l := range MailLines(path) {
		if i >= skip && l.To == email && l.Code != "" {
			code = l.Code
		}
	}
	return code
}

// mailPoll is how often WaitCode looks at the file: another process writes
// it, so there is nothing to be woken by.
const mailPoll = 10 * time.Millisecond

// WaitCode waits until a code for email appears in the mail.log at path
// after its first skip lines, and returns it as mailed.
func WaitCode(path, email string, skip int, within time.Duration) (string, error) {
	deadline := time.Now().Add(within)
	for {
		if code := NewestCode(path, email, skip); code != "" {
			return code, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no login code for %s in %s within %v", email, path, within)
		}
		time.Sleep(mailPoll)
	}
}
