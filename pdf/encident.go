package pdf

import (
	"fmt"

	"esign/pdf/crypt"
)

// EncryptionIdentity describes how r decrypts the file: the /Encrypt
// parameters as r's own revision resolves them and, for the standard
// handler's revisions 2 to 4, whose file key it feeds, the first string of
// /ID. Two readers with the same identity read the same stored bytes as
// the same objects; an update that changes any of it (another /Encrypt,
// another crypt filter or method, another /ID[0]) makes old objects read
// otherwise without touching their cross-reference entries. It is "" when
// the file is not encrypted.
func (r *Reader) EncryptionIdentity() string {
	if r.sec == nil {
		return ""
	}
	return r.sec.ident
}

// encryptionIdentity is EncryptionIdentity for the parameters p.
func encryptionIdentity(p crypt.Params) string {
	if p.R >= 5 {
		p.ID0 = nil // AES-256 keys do not depend on /ID
	}
	// %#v prints every field, maps sorted by key.
	return fmt.Sprintf("%#v", p)
}
