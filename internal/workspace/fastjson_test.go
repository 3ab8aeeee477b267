package workspace

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

const sampleProject = `{
  "version": 1,
  "service": "http://127.0.0.1:44149",
  "org": "org_eku4zi74hudgig7ue342yletxj",
  "project": "prj_jzigxi7dv3x6nv7zklbfabliva",
  "default_environment": "development",
  "environments": {
    "development": {
      "id": "env_hwfnba62kjawyrrku25kkan2cx",
      "file": ".env",
      "epoch": 1,
      "signing_key": "m4xy2ZMFd3OH83dMCOdV1TT69up0drDhPOfOHYhgafg",
      "recipient": "age1pq1w9sjfp54jdkgqzevc49zlztz"
    },
    "production": {
      "id": "env_zdtr4sljhuxvtar2m325jpdsva",
      "file": ".env.production",
      "epoch": 4294967295,
      "signing_key": "m4xy2ZMFd3OH83dMCOdV1TT69up0drDhPOfOHYhgafg",
      "local": ".env.production.mine"
    }
  }
}
`

// TestProjectFastReadsWhatSaveWrites: the form SaveProject writes takes
// the fast path, and reads as encoding/json reads it.
func TestProjectFastReadsWhatSaveWrites(t *testing.T) {
	var want Project
	if err := decodeProject([]byte(sampleProject), &want); err != nil {
		t.Fatal(err)
	}
	data, err := encodeJSON(projectRel, want)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{sampleProject, string(data), strings.ReplaceAll(string(data), "\n", "\r\n")} {
		got, ok := readProjectFast([]byte(in))
		if !ok || !reflect.DeepEqual(got, want) {
			t.Fatalf("readProjectFast(%q) = %+v, %v; want %+v", in, got, ok, want)
		}
	}
}

// TestProjectFastDeclines: valid JSON outside the plain form goes to
// encoding/json, which decides (and refuses unknown keys).
func TestProjectFastDeclines(t *testing.T) {
	for _, c := range []struct{ old, new string }{
		{`"file": ".env"`, `"file": ".env\u0041"`},
		{`"file": ".env"`, `"file": ".énv"`},
		{`"version": 1`, `"Version": 1`},
		{`"version": 1`, `"version": 1.0`},
		{`"version": 1`, `"version": 01`},
		{`"version": 1`, `"version": -1`},
		{`"epoch": 1`, `"epoch": 4294967296`},
		{`"epoch": 1`, `"epoch": 1e0`},
		{`"epoch": 1`, `"epoch": null`},
		{`"file": ".env"`, `"file": ".env", "extra": "x"`},
		{"}\n}\n", "}\n}\nx"}, // encoding/json's Decoder takes trailing text; the fast path does not
		{`"version": 1`, `"version": 9223372036854775808`},
	} {
		in := strings.Replace(sampleProject, c.old, c.new, 1)
		if in == sampleProject {
			t.Fatalf("%q is not in the sample", c.old)
		}
		if _, ok := readProjectFast([]byte(in)); ok {
			t.Errorf("readProjectFast took %q", c.new)
		}
	}
}

// FuzzProjectFast: whatever the fast path accepts, encoding/json reads to
// the same Project.
func FuzzProjectFast(f *testing.F) {
	f.Add([]byte(sampleProject))
	f.Add([]byte(`{"environments":{"a":{"epoch":2},"a":{"id":"x"}},"environments":{"b":{}}}`))
	f.Add([]byte(`{"version":9223372036854775807}`))
	f.Add([]byte(`{"version":9223372036854775808}`))
	f.Add([]byte(`{"environments":{"a":{"epoch":4294967296}}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, ok := readProjectFast(in)
		if !ok {
			return
		}
		var want Project
		if err := decodeProject(bytes.Clone(in), &want); err != nil {
			t.Fatalf("fast path took %q; encoding/json refuses it: %v", in, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("fast path read %q as %+v; encoding/json as %+v", in, got, want)
		}
	})
}

const sampleState = `{
  "version": 1,
  "current": "development",
  "environments": {
    "env_hwfnba62kjawyrrku25kkan2cx": {
      "epoch": 3,
      "base_version": 18446744073709551615,
      "base_id": "ver_abc",
      "seen_version": 7,
      "seen_id": "ver_def"
    }
  }
}
`

// TestStateFastReadsWhatSaveWrites: the form SaveState writes takes the
// fast path, and reads as json.Unmarshal reads it.
func TestStateFastReadsWhatSaveWrites(t *testing.T) {
	var want State
	if err := json.Unmarshal([]byte(sampleState), &want); err != nil {
		t.Fatal(err)
	}
	data, err := encodeJSON(stateRel, &want)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := readStateFast([]byte(sampleState + "0")); ok {
		t.Error("readStateFast took text after the object")
	}
	for _, in := range []string{sampleState, string(data)} {
		got, ok := readStateFast([]byte(in))
		if !ok || !reflect.DeepEqual(got, want) {
			t.Fatalf("readStateFast(%q) = %+v, %v; want %+v", in, got, ok, want)
		}
	}
	for _, bad := range []string{`"seen_version": 18446744073709551616`, `"current": "dev\"elopment"`, `"unknown": 1`, `"version": 9223372036854775808`} {
		in := strings.Replace(sampleState, `"version": 1`, `"version": 1, `+bad, 1)
		if _, ok := readStateFast([]byte(in)); ok {
			t.Errorf("readStateFast took %s", bad)
		}
	}
}

// FuzzStateFast: whatever the fast path accepts, json.Unmarshal reads to
// the same State.
func FuzzStateFast(f *testing.F) {
	f.Add([]byte(sampleState))
	f.Add([]byte(`{"environments":{"a":{"epoch":2},"a":{"seen_id":"x"}},"environments":{"b":{}}}`))
	f.Add([]byte(`{"current":"","version":0}`))
	f.Add([]byte(`{}0`))
	f.Add([]byte(`{"environments":{"e":{"base_version":18446744073709551616}}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, ok := readStateFast(in)
		if !ok {
			return
		}
		var want State
		if err := json.Unmarshal(in, &want); err != nil {
			t.Fatalf("fast path took %q; json.Unmarshal refuses it: %v", in, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("fast path read %q as %+v; json.Unmarshal as %+v", in, got, want)
		}
	})
}
