package localserver

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

const (
	adminKeyPrefix   = "eb_admin_"
	projectKeyPrefix = "eb_pk_"
	keyPrefixLen     = 12 // characters of a key shown as key_prefix
)

// newID returns prefix followed by 16 random lowercase hex characters.
func newID(prefix string) string {
	return prefix + randomHex(8)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

func newAdminKey() string     { return adminKeyPrefix + randomHex(20) }
func newProjectKey() string   { return projectKeyPrefix + randomHex(20) }
func newIngestSecret() string { return randomHex(32) }

// keyHash is the lookup handle of a presented credential; the server indexes
// keys by hash so that a raw key is never used as a map key in logs or dumps.
type keyHash [sha256.Size]byte

func hashKey(k string) keyHash { return sha256.Sum256([]byte(k)) }

func keyPrefixOf(k string) string {
	if len(k) <= keyPrefixLen {
		return k
	}
	return k[:keyPrefixLen]
}
