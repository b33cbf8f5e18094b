package event

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// UserHashProp is the props key in which an identify event carries the
// shop server's proof that it vouches for the user id.
const UserHashProp = "user_hash"

// UserHash is that proof: the hex HMAC-SHA256 of userID under the site's
// identity secret. The shop's server computes it (the secret never
// reaches a browser) and renders it into the page for identify.
func UserHash(secret, userID string) string {
	return hex.EncodeToString(userMAC(secret, userID))
}

// ValidUserHash tells, in constant time, whether hash is UserHash(secret,
// userID); hex digits may be upper-case.
func ValidUserHash(secret, userID, hash string) bool {
	got, err := hex.DecodeString(hash)
	if err != nil {
		return false
	}
	return hmac.Equal(got, userMAC(secret, userID))
}

func userMAC(secret, userID string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(userID))
	return m.Sum(nil)
}
