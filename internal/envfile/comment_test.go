package envfile

import "testing"

func TestComment(t *testing.T) {
	d, err := Parse([]byte("A=1 # one\nB=\"x\ny\"   #two  \r\nC=3\nD='#not' # capy:allow public\nE= # value\n"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"A": "one", "B": "two", "C": "", "D": "capy:allow public", "E": "", "NONE": ""} {
		if got := d.Comment(name); got != want {
			t.Errorf("Comment(%s) = %q, want %q", name, got, want)
		}
	}
}

func TestSetComment(t *testing.T) {
	d, err := Parse([]byte("A=1 # one\r\nB=\"x\ny\"\nC=3"))
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"A": "capy:allow one", "B": "capy:allow", "C": "last"} {
		if err := d.SetComment(name, text); err != nil {
			t.Fatalf("SetComment(%s): %v", name, err)
		}
	}
	want := "A=1 # capy:allow one\r\nB=\"x\ny\" # capy:allow\nC=3 # last"
	if got := string(d.Bytes()); got != want {
		t.Fatalf("Bytes = %q, want %q", got, want)
	}
	if err := d.SetComment("A", ""); err != nil || string(d.Bytes()) != "A=1\r\nB=\"x\ny\" # capy:allow\nC=3 # last" {
		t.Fatalf("removing a comment: %v %q", err, d.Bytes())
	}
	// Refused: a name not there, a line break, and an unquoted empty value
	// (`E= # c` reads as the value "# c").
	e, _ := Parse([]byte("E=\n"))
	for _, c := range []struct{ name, text string }{{"NOPE", "x"}, {"A", "a\nB=2"}} {
		if d.SetComment(c.name, c.text) == nil {
			t.Errorf("SetComment(%q, %q) accepted", c.name, c.text)
		}
	}
	if e.SetComment("E", "c") == nil {
		t.Errorf("a comment after an unquoted empty value accepted")
	}
	if string(e.Bytes()) != "E=\n" {
		t.Errorf("a refused comment changed the file: %q", e.Bytes())
	}
}
