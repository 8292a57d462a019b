package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"esign/signopts"
	"io"

	"github.com/gin-gonic/gin"
)

// Placement is a visible signature's place; see signopts.Placement.
type Placement = signopts.Placement

// maxImage bounds the signature image.
const maxImage = signopts.MaxImage

// requestID is the ID logRequests gave the request (and sent in
// X-Request-Id), or a fresh one outside that middleware.
func requestID(c *gin.Context) string {
	if id := c.GetString(keyRequestID); id != "" {
		return id
	}
	return newRequestID()
}

// newRequestID makes a request ID: 16 random hex digits.
func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// sha256Of fingerprints an upload for the audit log of a failed request.
func sha256Of(r io.ReaderAt, size int64) []byte {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
		return nil
	}
	return h.Sum(nil)
}
