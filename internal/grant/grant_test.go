package grant

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/bolt"
)

const (
	keyA = "1234abcd-12ab-34cd-56ef-1234567890ab"
	keyB = "0987dcba-09fe-87dc-65ba-ab0987654321"
	idA1 = "1111111111111111111111111111111111111111111111111111111111111111"
	idA2 = "2222222222222222222222222222222222222222222222222222222222222222"
	idB1 = "3333333333333333333333333333333333333333333333333333333333333333"
)

func newGrant(id, keyID, name, retiring string) *Grant {
	return &Grant{ID: id, Region: "us-east-1", KeyID: keyID, KeyAccount: "111122223333", Name: name,
		IssuingAccount: "arn:aws:iam::111122223333:root", Grantee: "arn:aws:iam::111122223333:user/alice",
		Retiring: retiring, Operations: []kmsapi.GrantOperation{kmsapi.GrantOperationDecrypt},
		CreationDate: time.Unix(1e9, 0).UTC()}
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestStore: grants are kept per key with their name and retiring indexes
// and the count, and removing a grant (or every grant of a key) leaves
// nothing of it behind.
func TestStore(t *testing.T) {
	db := openStore(t)
	const bob = "arn:aws:iam::111122223333:user/bob"
	err := db.Update(func(tx store.Tx) error {
		for _, g := range []*Grant{newGrant(idA2, keyA, "", bob), newGrant(idA1, keyA, "deploy", ""), newGrant(idB1, keyB, "", bob)} {
			if err := Add(tx, g); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(tx store.Tx) error {
		grants, err := OfKey(tx, "us-east-1", keyA)
		if err != nil || len(grants) != 2 || grants[0].ID != idA1 || grants[1].ID != idA2 {
			t.Fatalf("OfKey: %v %v", grants, err)
		}
		if n, err := Count(tx, "us-east-1", keyA); n != 2 || err != nil {
			t.Fatalf("Count = %d, %v; want 2", n, err)
		}
		if id, err := IDByName(tx, "us-east-1", keyA, "deploy"); id != idA1 || err != nil {
			t.Fatalf("IDByName = %q, %v", id, err)
		}
		g, err := Get(tx, "us-east-1", keyA, idA1)
		if err != nil || g.Name != "deploy" || !g.CreationDate.Equal(time.Unix(1e9, 0)) {
			t.Fatalf("Get: %+v %v", g, err)
		}
		if _, err := Get(tx, "us-east-1", keyB, idA1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a grant of another key: %v", err)
		}
		var retirable []string
		err = ScanRetirable(tx, bob, "", func(entry string, g *Grant) (bool, error) {
			if !strings.HasPrefix(entry, RetirablePrefix(bob)) {
				t.Fatalf("entry %q", entry)
			}
			retirable = append(retirable, g.KeyID+"/"+g.ID)
			return true, nil
		})
		if err != nil || strings.Join(retirable, ",") != keyB+"/"+idB1+","+keyA+"/"+idA2 {
			t.Fatalf("grants bob may retire: %v, %v", retirable, err)
		}
		return nil
	})

	err = db.Update(func(tx store.Tx) error {
		g, err := Get(tx, "us-east-1", keyA, idA1)
		if err != nil {
			return err
		}
		return Remove(tx, g)
	})
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(tx store.Tx) error {
		if n, _ := Count(tx, "us-east-1", keyA); n != 1 {
			t.Fatalf("Count after Remove = %d, want 1", n)
		}
		if _, err := IDByName(tx, "us-east-1", keyA, "deploy"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the name of a removed grant: %v", err)
		}
		return nil
	})

	if err := db.Update(func(tx store.Tx) error { return DeleteAll(tx, "us-east-1", keyA) }); err != nil {
		t.Fatal(err)
	}
	db.View(func(tx store.Tx) error {
		grants, _ := OfKey(tx, "us-east-1", keyA)
		n, _ := Count(tx, "us-east-1", keyA)
		if len(grants) != 0 || n != 0 {
			t.Fatalf("after DeleteAll: %d grants, count %d", len(grants), n)
		}
		left := 0
		tx.Scan(store.GrantIndex, RetirablePrefix(bob), "", func(string, []byte) (bool, error) { left++; return true, nil })
		if left != 1 {
			t.Fatalf("retiring entries after DeleteAll of one key: %d, want 1 (the other key's)", left)
		}
		if n, _ := Count(tx, "us-east-1", keyB); n != 1 {
			t.Fatal("DeleteAll of one key touched another's count")
		}
		return nil
	})
}

// TestRetirableByPathPrefix: role/a and role/a/b (an IAM path) are two
// principals; the grants of the second are not the first's, and do not
// break the listing of the first's.
func TestRetirableByPathPrefix(t *testing.T) {
	db := openStore(t)
	const a, ab = "arn:aws:iam::111122223333:role/a", "arn:aws:iam::111122223333:role/a/b"
	db.Update(func(tx store.Tx) error {
		for _, g := range []*Grant{newGrant(idA1, keyA, "", ab), newGrant(idA2, keyA, "", a), newGrant(idB1, keyB, "", ab)} {
			if err := Add(tx, g); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	db.View(func(tx store.Tx) error {
		for principal, want := range map[string]string{a: idA2, ab: idB1 + "," + idA1} {
			var got []string
			err := ScanRetirable(tx, principal, "", func(_ string, g *Grant) (bool, error) {
				got = append(got, g.ID)
				return true, nil
			})
			if err != nil || strings.Join(got, ",") != want {
				t.Errorf("grants %s may retire: %v, %v; want %s", principal, got, err, want)
			}
		}
		return nil
	})
}

// TestStoredGrantMustBeWhereItIs: a grant record copied under another key
// or ID (an edit of the data directory) is an error, not a grant of that key.
func TestStoredGrantMustBeWhereItIs(t *testing.T) {
	db := openStore(t)
	db.Update(func(tx store.Tx) error {
		if err := Add(tx, newGrant(idA1, keyA, "", "")); err != nil {
			t.Fatal(err)
		}
		v, _ := tx.Get(store.Grants, KeyPrefix("us-east-1", keyA)+idA1)
		return tx.Put(store.Grants, KeyPrefix("us-east-1", keyB)+idA1, v)
	})
	db.View(func(tx store.Tx) error {
		if _, err := Get(tx, "us-east-1", keyB, idA1); err == nil {
			t.Fatal("Get accepted a grant record of another key")
		}
		if _, err := OfKey(tx, "us-east-1", keyB); err == nil {
			t.Fatal("OfKey accepted a grant record of another key")
		}
		return nil
	})
}

func TestToken(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	g := newGrant(idA1, keyA, "", "")
	nonce := make([]byte, NonceSize)
	tok, err := Token(key, g, nonce)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := ParseToken(key, tok)
	if err != nil || ref != (TokenRef{Region: "us-east-1", KeyID: keyA, GrantID: idA1}) {
		t.Fatalf("ParseToken = %+v, %v", ref, err)
	}
	nonce[0] = 1
	if other, _ := Token(key, g, nonce); other == tok {
		t.Fatal("two nonces made the same token")
	}

	raw, _ := base64.StdEncoding.DecodeString(tok)
	for i := range raw {
		for _, bit := range []byte{0x01, 0x80} {
			b := append([]byte{}, raw...)
			b[i] ^= bit
			if _, err := ParseToken(key, base64.StdEncoding.EncodeToString(b)); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("a token with byte %d changed: %v", i, err)
			}
		}
	}
	otherKey := make([]byte, 32)
	for _, bad := range []string{"", "!", base64.StdEncoding.EncodeToString(raw[:len(raw)-1]), tok + "AA=="} {
		if _, err := ParseToken(key, bad); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("ParseToken(%q): %v", bad, err)
		}
	}
	if _, err := ParseToken(otherKey, tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatal("a token made with another service's key was accepted")
	}
	if _, err := Token(key, &Grant{ID: "nothex", Region: "r", KeyID: keyA}, nonce); err == nil {
		t.Fatal("a token for a malformed grant ID")
	}
}

func TestContextAllows(t *testing.T) {
	equals := &Grant{ContextEquals: map[string]string{"app": "a"}}
	subset := &Grant{ContextSubset: map[string]string{"app": "a"}}
	none := &Grant{}
	for _, c := range []struct {
		g    *Grant
		ec   map[string]string
		want bool
	}{
		{equals, map[string]string{"app": "a"}, true},
		{equals, map[string]string{"app": "a", "x": "y"}, false},
		{equals, nil, false},
		{subset, map[string]string{"app": "a", "x": "y"}, true},
		{subset, map[string]string{"app": "b"}, false},
		{subset, nil, false},
		{none, nil, true},
		{none, map[string]string{"x": "y"}, true},
	} {
		if got := c.g.ContextAllows(c.ec); got != c.want {
			t.Errorf("%+v allows %v: %v, want %v", c.g, c.ec, got, c.want)
		}
	}
	if !TakesContext(kmsapi.GrantOperationDecrypt) || TakesContext(kmsapi.GrantOperationSign) || TakesContext(kmsapi.GrantOperationDescribeKey) {
		t.Fatal("TakesContext")
	}
}

func TestNarrowerThanAndSameAs(t *testing.T) {
	ops := func(o ...kmsapi.GrantOperation) []kmsapi.GrantOperation { return o }
	dec, enc := kmsapi.GrantOperationDecrypt, kmsapi.GrantOperationEncrypt
	parent := &Grant{Operations: ops(dec, enc), ContextSubset: map[string]string{"app": "a"}}
	for _, c := range []struct {
		child *Grant
		want  bool
	}{
		{&Grant{Operations: ops(dec), ContextSubset: map[string]string{"app": "a", "x": "y"}}, true},
		{&Grant{Operations: ops(dec), ContextEquals: map[string]string{"app": "a"}}, true},
		{&Grant{Operations: ops(dec)}, false},
		{&Grant{Operations: ops(dec, kmsapi.GrantOperationCreateGrant), ContextSubset: map[string]string{"app": "a"}}, false},
		{&Grant{Operations: ops(dec), ContextSubset: map[string]string{"app": "b"}}, false},
	} {
		if got := c.child.NarrowerThan(parent); got != c.want {
			t.Errorf("%+v narrower than %+v: %v, want %v", c.child, parent, got, c.want)
		}
	}
	equalsParent := &Grant{Operations: ops(dec), ContextEquals: map[string]string{"app": "a"}}
	if (&Grant{Operations: ops(dec), ContextSubset: map[string]string{"app": "a"}}).NarrowerThan(equalsParent) {
		t.Error("Equals became Subset through a child grant")
	}

	a := &Grant{Grantee: "g", Operations: ops(enc, dec, dec)}
	if !a.SameAs(&Grant{Grantee: "g", Operations: ops(dec, enc)}) {
		t.Error("the same operations in another order are not the same grant")
	}
	if a.SameAs(&Grant{Grantee: "g", Operations: ops(dec, enc), ContextSubset: map[string]string{}}) {
		t.Error("an empty constraint is not no constraint")
	}
	if a.SameAs(&Grant{Grantee: "h", Operations: ops(dec, enc)}) {
		t.Error("another grantee is the same grant")
	}
}
