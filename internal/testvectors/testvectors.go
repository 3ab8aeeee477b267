// Package testvectors loads the known-answer vectors in testdata/vectors,
// which an independent Python implementation computed from the
// specification (testdata/vectors/gen_vectors.py). It is used by tests only.
package testvectors

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Sealed is one sealed box vector.
type Sealed struct {
	AAD  string `json:"aad"`
	Blob string `json:"blob"`
}

// Outer is one outer-wrap vector.
type Outer struct {
	OuterKey string `json:"outer_key"`
	AAD      string `json:"aad"`
	Blob     string `json:"blob"`
}

// Epoch holds the per-epoch keys of the test environment.
type Epoch struct {
	EnvKey               string `json:"env_key"`
	SnippetKey           string `json:"snippet_key"`
	RidKey               string `json:"rid_key"`
	SigningSeed          string `json:"signing_seed"`
	SigningPublicKey     string `json:"signing_public_key"`
	SigningPublicKeyB64u string `json:"signing_public_key_b64u"`
}

// Snippet is one snippet vector.
type Snippet struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	Flags     byte   `json:"flags"`
	IV        string `json:"iv"`
	Plaintext string `json:"plaintext"`
	AAD       string `json:"aad"`
	Snippet   string `json:"snippet"`
}

// Blob is one environment blob vector.
type Blob struct {
	Epoch           uint32 `json:"epoch"`
	Version         uint64 `json:"version"`
	Parent          string `json:"parent"`
	ManifestMessage string `json:"manifest_message"`
	SignatureB64u   string `json:"signature_b64u"`
	Text            string `json:"text"`
	ID              string `json:"id"`
}

// Code is one redeem or deploy code vector.
type Code struct {
	PayloadHex string `json:"payload_hex"`
	Code       string `json:"code"`
}

// Audit is one audit-chain row vector.
type Audit struct {
	PrevHash string `json:"prev_hash"`
	Seq      uint64 `json:"seq"`
	Time     string `json:"time"`
	Actor    string `json:"actor"`
	Action   string `json:"action"`
	Target   string `json:"target"`
	Result   string `json:"result"`
	Hash     string `json:"hash"`
}

// HKDF is one RFC 5869 test case.
type HKDF struct {
	IKM  string `json:"ikm"`
	Salt string `json:"salt"`
	Info string `json:"info"`
	L    int    `json:"L"`
	PRK  string `json:"prk"`
	OKM  string `json:"okm"`
}

// Vectors is the whole of vectors.json.
type Vectors struct {
	Inputs struct {
		Entropy      string `json:"entropy"`
		Phrase       string `json:"phrase"`
		OrgID        string `json:"org_id"`
		ProjectID    string `json:"project_id"`
		EnvID        string `json:"env_id"`
		UserID       string `json:"user_id"`
		InviteID     string `json:"invite_id"`
		DeployID     string `json:"deploy_id"`
		Email        string `json:"email"`
		DeviceSecret string `json:"device_secret"`
		InviteToken  string `json:"invite_token"`
		DeployToken  string `json:"deploy_token"`
		ServiceURL   string `json:"service_url"`
		KEK          string `json:"kek"`
		KEKID        uint32 `json:"kek_id"`
		SealedIV     string `json:"sealed_iv"`
		OuterIV      string `json:"outer_iv"`
	} `json:"inputs"`
	MasterKey          string            `json:"master_key"`
	KeyCheck           string            `json:"key_check"`
	ProjectKey         string            `json:"project_key"`
	Epochs             map[string]Epoch  `json:"epochs"`
	Rids               map[string]string `json:"rids"`
	Snippets           []Snippet         `json:"snippets"`
	InnerWrapKey       string            `json:"inner_wrap_key"`
	KeyEncInner        Sealed            `json:"key_enc_inner"`
	InviteInnerKey     string            `json:"invite_inner_key"`
	InviteInner        Sealed            `json:"invite_inner"`
	DeployInnerKey     string            `json:"deploy_inner_key"`
	DeployAuthKey      string            `json:"deploy_auth_key"`
	DeployAuthVerifier string            `json:"deploy_auth_verifier"`
	DeployInner        Sealed            `json:"deploy_inner"`
	Outer              map[string]Outer  `json:"outer"`
	Blobs              []Blob            `json:"blobs"`
	Codes              map[string]Code   `json:"codes"`
	KeyFileLine        string            `json:"key_file_line"`
	Audit              []Audit           `json:"audit"`
	HKDFRFC5869        []HKDF            `json:"hkdf_rfc5869"`
}

// Dir returns the absolute path of testdata/vectors.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "vectors")
}

// Load reads and decodes vectors.json, rejecting unknown fields so a
// renamed field in the generator cannot silently drop a check.
func Load() (*Vectors, error) {
	f, err := os.Open(filepath.Join(Dir(), "vectors.json"))
	if err != nil {
		return nil, fmt.Errorf("open vectors: %w", err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	var v Vectors
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode vectors: %w", err)
	}
	return &v, nil
}

// Hex decodes a hex string from the vectors, panicking on malformed test data.
func Hex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(fmt.Sprintf("testvectors: bad hex %q: %v", s, err))
	}
	return b
}

// Key32 decodes a 32-byte hex key.
func Key32(s string) [32]byte {
	b := Hex(s)
	if len(b) != 32 {
		panic(fmt.Sprintf("testvectors: key has %d bytes", len(b)))
	}
	var k [32]byte
	copy(k[:], b)
	return k
}
