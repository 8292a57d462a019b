package csc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"esign/activation"
	"esign/signer"
	"esign/store"
)

// Error is a CSC error answer: {"error": Code, "error_description":
// Description} with HTTP status Status.
type Error struct {
	Status      int
	Code        string
	Description string
}

func (e *Error) Error() string { return "csc: " + e.Code + ": " + e.Description }

// The CSC error codes this server answers.
const (
	codeInvalidRequest = "invalid_request"
	codeInvalidToken   = "invalid_token"
	codeAccessDenied   = "access_denied"
	codeInvalidPIN     = "invalid_pin"
	codeInvalidOTP     = "invalid_otp"
	codeUnavailable    = "temporarily_unavailable"
	codeServerError    = "server_error"
	// codeClientClosed is no answer anyone reads: the audit's and the
	// log's record of a client that went away, as /api/v1 records it.
	codeClientClosed = "client_closed"
)

// statusClientClosed is the status recorded for a request whose client
// went away before the answer (nginx's 499), as the main API records it.
const statusClientClosed = 499

// badRequest is a 400 invalid_request.
func badRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: codeInvalidRequest, Description: fmt.Sprintf(format, args...)}
}

// errInvalidCredential answers every credential a client may not use,
// whether it exists or not, alike.
var errInvalidCredential = badRequest("Invalid parameter credentialID")

// errTooLarge reports a body over the method's limit.
var errTooLarge = &Error{Status: http.StatusRequestEntityTooLarge, Code: codeInvalidRequest, Description: "the body is too large"}

// errBusy reports a saturated signing queue.
var errBusy = &Error{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Description: "the signing service is busy; retry later"}

// classify turns any error into the CSC answer for it: the one place
// that does, so every endpoint answers alike.
func classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var locked *activation.LockedError
	switch {
	case errors.As(err, &locked):
		return &Error{Status: http.StatusForbidden, Code: codeAccessDenied, Description: "the credential is locked after repeated wrong activation data"}
	case errors.Is(err, activation.ErrNotEnrolled):
		return &Error{Status: http.StatusForbidden, Code: codeAccessDenied, Description: "the credential has no activation data enrolled"}
	case errors.Is(err, store.ErrUnauthenticated):
		return &Error{Status: http.StatusUnauthorized, Code: codeInvalidToken, Description: "missing or invalid access token"}
	case errors.Is(err, store.ErrForbidden), errors.Is(err, store.ErrNotFound):
		return errInvalidCredential
	case errors.Is(err, signer.ErrInvalidPDF), errors.Is(err, signer.ErrEncrypted), errors.Is(err, signer.ErrBadOptions),
		errors.Is(err, signer.ErrAlreadySigned), errors.Is(err, signer.ErrDocMDPForbids), errors.Is(err, signer.ErrCertifyNotFirst),
		errors.Is(err, signer.ErrFieldSigned):
		return badRequest("Invalid parameter document: %v", err)
	case errors.Is(err, signer.ErrPasswordRequired), errors.Is(err, signer.ErrWrongPassword), errors.Is(err, signer.ErrPermissions):
		// The client's document: encrypted, and signDoc takes no password.
		return badRequest("Invalid parameter document: %v", err)
	case errors.Is(err, signer.ErrCertificate):
		return &Error{Status: http.StatusUnprocessableEntity, Code: codeInvalidRequest, Description: "the credential's certificate cannot sign"}
	case errors.Is(err, signer.ErrUnavailable), errors.As(err, new(*signer.KeyError)), store.IsUnavailable(err),
		errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Description: "a service the request needs is unavailable; retry later"}
	case errors.Is(err, context.Canceled):
		// Only the client's going away cancels a request: its own doing,
		// as the main API records it (client_closed), not a server error.
		return &Error{Status: statusClientClosed, Code: codeClientClosed, Description: "the client closed the request"}
	}
	return &Error{Status: http.StatusInternalServerError, Code: codeServerError, Description: "internal error"}
}

// fail answers err in the CSC error format. The error itself goes to
// the request log; never activation data, which no error carries.
func fail(c *gin.Context, err error) {
	e := classify(err)
	if e.Status == http.StatusServiceUnavailable {
		c.Header("Retry-After", "30")
	}
	var locked *activation.LockedError
	if errors.As(err, &locked) {
		c.Header("Retry-After", strconv.Itoa(int(locked.RetryAfter(time.Now()).Seconds())+1))
	}
	if e.Status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="esign"`)
	}
	_ = c.Error(err)
	c.AbortWithStatusJSON(e.Status, gin.H{"error": e.Code, "error_description": e.Description})
}
