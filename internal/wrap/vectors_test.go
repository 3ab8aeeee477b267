package wrap

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"testing"

	"github.com/capy-oss/capy/internal/testvectors"
)

func loadVectors(t *testing.T) *testvectors.Vectors {
	t.Helper()
	v, err := testvectors.Load()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVectorsHKDF(t *testing.T) {
	v := loadVectors(t)
	if len(v.HKDFRFC5869) != 3 {
		t.Fatalf("want 3 RFC 5869 cases, got %d", len(v.HKDFRFC5869))
	}
	for i, c := range v.HKDFRFC5869 {
		got := DeriveKeyN(testvectors.Hex(c.IKM), testvectors.Hex(c.Salt), string(testvectors.Hex(c.Info)), c.L)
		if hex.EncodeToString(got) != c.OKM {
			t.Errorf("case %d: okm %x, want %s", i+1, got, c.OKM)
		}
	}
}

func TestVectorsSealedBoxes(t *testing.T) {
	v := loadVectors(t)
	iv := testvectors.Hex(v.Inputs.SealedIV)
	for name, c := range map[string]struct {
		key  string
		box  testvectors.Sealed
		want string
	}{
		"key.enc": {v.InnerWrapKey, v.KeyEncInner, v.MasterKey},
		"invite":  {v.InviteInnerKey, v.InviteInner, v.MasterKey},
		"deploy":  {v.DeployInnerKey, v.DeployInner, v.Epochs["1"].EnvKey},
	} {
		key := testvectors.Key32(c.key)
		pt, err := Open(&key, testvectors.Hex(c.box.Blob), []byte(c.box.AAD))
		if err != nil {
			t.Fatalf("%s: open: %v", name, err)
		}
		if hex.EncodeToString(pt) != c.want {
			t.Errorf("%s: opened %x, want %s", name, pt, c.want)
		}
		box, err := seal(bytes.NewReader(iv), &key, testvectors.Hex(c.want), []byte(c.box.AAD))
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(box) != c.box.Blob {
			t.Errorf("%s: sealed %x, want %s", name, box, c.box.Blob)
		}
	}
}

func TestVectorsOuter(t *testing.T) {
	v := loadVectors(t)
	kek := testvectors.Key32(v.Inputs.KEK)
	inners := map[string]struct{ subject, inner string }{
		PurposeKey:    {v.Inputs.UserID, v.KeyEncInner.Blob},
		PurposeInvite: {v.Inputs.InviteID, v.InviteInner.Blob},
		PurposeDeploy: {v.Inputs.DeployID, v.DeployInner.Blob},
	}
	if len(v.Outer) != len(inners) {
		t.Fatalf("vectors have %d outer blobs, want %d", len(v.Outer), len(inners))
	}
	for purpose, c := range inners {
		want := v.Outer[purpose]
		ok := OuterKey(&kek, v.Inputs.OrgID, purpose)
		if hex.EncodeToString(ok[:]) != want.OuterKey {
			t.Errorf("%s: outer key %x, want %s", purpose, ok, want.OuterKey)
		}
		out, err := sealOuter(bytes.NewReader(testvectors.Hex(v.Inputs.OuterIV)), &kek, v.Inputs.KEKID,
			v.Inputs.OrgID, purpose, c.subject, testvectors.Hex(c.inner))
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(out) != want.Blob {
			t.Errorf("%s: outer %x, want %s", purpose, out, want.Blob)
		}
		kid, err := OuterKeyID(testvectors.Hex(want.Blob))
		if err != nil || kid != v.Inputs.KEKID {
			t.Errorf("%s: kid %d, %v", purpose, kid, err)
		}
		inner, err := OpenOuter(&kek, v.Inputs.OrgID, purpose, c.subject, testvectors.Hex(want.Blob))
		if err != nil || hex.EncodeToString(inner) != c.inner {
			t.Errorf("%s: open outer: %x, %v", purpose, inner, err)
		}
	}
}

func TestVectorsSnippets(t *testing.T) {
	v := loadVectors(t)
	key := testvectors.Key32(v.Epochs["1"].SnippetKey)
	if len(v.Snippets) != 3 {
		t.Fatalf("want 3 snippets, got %d", len(v.Snippets))
	}
	for _, s := range v.Snippets {
		rid := v.Rids[s.Name]
		got, err := sealSnippet(bytes.NewReader(testvectors.Hex(s.IV)), &key, rid, s.Name, s.Flags, s.Value)
		if err != nil {
			t.Fatal(err)
		}
		if got != s.Snippet {
			t.Errorf("%s: sealed %s, want %s", s.Name, got, s.Snippet)
		}
		value, flags, err := OpenSnippet(&key, rid, s.Name, s.Snippet)
		if err != nil || value != s.Value || flags != s.Flags {
			t.Errorf("%s: opened %q flags %d: %v", s.Name, value, flags, err)
		}
	}
}

func TestVectorsBlobs(t *testing.T) {
	v := loadVectors(t)
	seed := testvectors.Hex(v.Epochs["1"].SigningSeed)
	priv := ed25519.NewKeyFromSeed(seed)
	pub := ed25519.PublicKey(testvectors.Hex(v.Epochs["1"].SigningPublicKey))
	if !bytes.Equal(priv.Public().(ed25519.PublicKey), pub) {
		t.Fatal("signing seed does not give the vector's public key")
	}
	if len(v.Blobs) != 2 {
		t.Fatalf("want 2 blobs, got %d", len(v.Blobs))
	}
	for _, want := range v.Blobs {
		parsed, err := ParseBlob([]byte(want.Text))
		if err != nil {
			t.Fatalf("v%d: parse: %v", want.Version, err)
		}
		if parsed.ID() != want.ID || parsed.Epoch != want.Epoch || parsed.Version != want.Version || parsed.Parent != want.Parent {
			t.Errorf("v%d: parsed %+v id %s", want.Version, parsed.Manifest, parsed.ID())
		}
		msg := ManifestMessage(v.Inputs.ProjectID, v.Inputs.EnvID, want.Epoch, want.Version, want.Parent, parsed.Snippets)
		if string(msg) != want.ManifestMessage {
			t.Errorf("v%d: manifest message %q, want %q", want.Version, msg, want.ManifestMessage)
		}
		if err := parsed.VerifySignature(pub, v.Inputs.ProjectID, v.Inputs.EnvID); err != nil {
			t.Errorf("v%d: %v", want.Version, err)
		}
		// Build from the snippets in a scrambled order: the result must be
		// the vector byte for byte (sorting, layout, deterministic signature).
		scrambled := append([]string(nil), parsed.Snippets...)
		for i, j := 0, len(scrambled)-1; i < j; i, j = i+1, j-1 {
			scrambled[i], scrambled[j] = scrambled[j], scrambled[i]
		}
		built, err := BuildBlob(priv, v.Inputs.ProjectID, v.Inputs.EnvID, want.Epoch, want.Version, want.Parent, scrambled)
		if err != nil {
			t.Fatal(err)
		}
		if string(built.Raw()) != want.Text {
			t.Errorf("v%d: built\n%s\nwant\n%s", want.Version, built.Raw(), want.Text)
		}
		if B64.EncodeToString(built.Signature) != want.SignatureB64u {
			t.Errorf("v%d: signature differs", want.Version)
		}
	}
	// Blob 2 descends from blob 1.
	b1, _ := ParseBlob([]byte(v.Blobs[0].Text))
	b2, _ := ParseBlob([]byte(v.Blobs[1].Text))
	if !CheckNext(b1, b2) || !CheckNext(nil, b1) || CheckNext(b2, b1) {
		t.Error("CheckNext disagrees with the vector history")
	}
}

func TestVectorsCodes(t *testing.T) {
	v := loadVectors(t)
	in := v.Inputs
	rc := RedeemCode{URL: in.ServiceURL, OrgID: in.OrgID, InviteID: in.InviteID}
	copy(rc.Token[:], testvectors.Hex(in.InviteToken))
	if got := rc.Encode(); got != v.Codes["redeem"].Code {
		t.Errorf("redeem code %s, want %s", got, v.Codes["redeem"].Code)
	}
	parsedRC, err := ParseRedeemCode(v.Codes["redeem"].Code)
	if err != nil || parsedRC != rc {
		t.Errorf("parse redeem: %v", err)
	}
	dc := DeployCode{URL: in.ServiceURL, OrgID: in.OrgID, ProjectID: in.ProjectID, EnvID: in.EnvID, Epoch: 1, DeployID: in.DeployID}
	copy(dc.Token[:], testvectors.Hex(in.DeployToken))
	if got := dc.Encode(); got != v.Codes["deploy"].Code {
		t.Errorf("deploy code %s, want %s", got, v.Codes["deploy"].Code)
	}
	parsedDC, err := ParseDeployCode(v.Codes["deploy"].Code)
	if err != nil || parsedDC != dc {
		t.Errorf("parse deploy: %v", err)
	}
}
