package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"esign/activation"
	"esign/registry"
	"esign/signer"
	"esign/signopts"
	"esign/store"
)

// errRequestTooLarge reports an upload over the limit.
var errRequestTooLarge = errors.New("api: request body too large")

// errBadRequest reports a malformed request.
var errBadRequest = errors.New("api: bad request")

// errUnknownField reports a form field or JSON member the endpoint does
// not know: a misspelt "certfy" must not sign without the certification
// the caller meant.
var errUnknownField = errors.New("api: unknown field")

// errShuttingDown reports a request that arrived during shutdown.
var errShuttingDown = errors.New("api: the service is shutting down")

// errTooManyUploads reports that Config.MaxUploads uploads are in flight.
var errTooManyUploads = errors.New("api: too many uploads in flight")

// errBusy reports a saturated HSM queue.
var errBusy = errors.New("api: the HSM is busy")

// statusClientClosed is the status recorded for a request whose client
// went away before the answer (nginx's 499): nobody reads it.
const statusClientClosed = 499

// apiError is the one error shape every endpoint returns:
// {"error":{"code":"…","message":"…"}}.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// StatusOf maps an error to its HTTP status and stable code. It is the
// only place that does, so every endpoint answers alike, and a batch
// document that fails gets the code /sign would give.
func StatusOf(err error) (int, string) { return statusOf(err) }

func statusOf(err error) (int, string) {
	switch {
	case errors.Is(err, store.ErrUnauthenticated):
		return http.StatusUnauthorized, "unauthenticated"
	case errors.Is(err, store.ErrForbidden), errors.Is(err, store.ErrNotFound):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, activation.ErrLocked):
		return http.StatusForbidden, "credential_locked"
	case errors.Is(err, activation.ErrActivationFailed):
		return http.StatusForbidden, "activation_failed"
	case errors.Is(err, errRequestTooLarge):
		return http.StatusRequestEntityTooLarge, "too_large"
	case errors.Is(err, errUnknownField):
		return http.StatusBadRequest, "unknown_field"
	case errors.Is(err, errBadRequest), errors.Is(err, signer.ErrBadOptions), errors.Is(err, signopts.ErrInvalid):
		return http.StatusBadRequest, "bad_request"
	case errors.Is(err, signer.ErrAttachmentForbidden):
		return http.StatusUnprocessableEntity, "attachment_forbidden"
	case errors.Is(err, signer.ErrAlreadySigned):
		return http.StatusConflict, "already_signed"
	case errors.Is(err, registry.ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, registry.ErrRevoked):
		return http.StatusConflict, "already_revoked"
	case errors.Is(err, registry.ErrInvalid):
		return http.StatusBadRequest, "bad_request"
	case errors.Is(err, signer.ErrPasswordRequired):
		return http.StatusUnprocessableEntity, "password_required"
	case errors.Is(err, signer.ErrWrongPassword):
		return http.StatusUnprocessableEntity, "wrong_password"
	case errors.Is(err, signer.ErrPermissions):
		return http.StatusConflict, "signing_not_permitted"
	case errors.Is(err, signer.ErrInvalidPDF):
		return http.StatusUnprocessableEntity, "invalid_pdf"
	case errors.Is(err, signer.ErrEncrypted):
		return http.StatusUnprocessableEntity, "encrypted_pdf"
	case errors.Is(err, signer.ErrDocMDPForbids):
		return http.StatusConflict, "certified_no_changes"
	case errors.Is(err, signer.ErrCertifyNotFirst):
		return http.StatusConflict, "certify_not_first"
	case errors.Is(err, signer.ErrFieldSigned):
		return http.StatusConflict, "field_signed"
	case errors.Is(err, signer.ErrCertificate):
		return http.StatusUnprocessableEntity, "certificate_unusable"
	case errors.Is(err, signer.ErrUnavailable):
		return http.StatusServiceUnavailable, "dependency_unavailable"
	case errors.As(err, new(*signer.KeyError)):
		return http.StatusServiceUnavailable, "hsm_unavailable"
	case errors.Is(err, errBusy), errors.Is(err, errTooManyUploads):
		return http.StatusServiceUnavailable, "busy"
	case errors.Is(err, errShuttingDown):
		return http.StatusServiceUnavailable, "shutting_down"
	case store.IsFull(err):
		return http.StatusInsufficientStorage, "insufficient_storage"
	case store.IsUnavailable(err):
		return http.StatusServiceUnavailable, "dependency_unavailable"
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "timeout"
	case errors.Is(err, context.Canceled):
		// Only the client's going away cancels a request: its own doing,
		// not the server's, in the log, the audit and the metrics.
		return statusClientClosed, "client_closed"
	}
	return http.StatusInternalServerError, "internal"
}

// Abort answers with the error JSON, as every endpoint does; for the
// endpoints of other packages (batches) mounted on the API.
func Abort(c *gin.Context, err error) { abort(c, err) }

// abort answers with the error JSON. 5xx messages stay generic, because
// they may carry internal detail; the log has the whole error.
func abort(c *gin.Context, err error) {
	status, code := statusOf(err)
	msg := err.Error()
	switch {
	case status == http.StatusInsufficientStorage:
		msg = "the service's storage is full; retry later"
	case store.IsUnavailable(err):
		// The driver's text names hosts, sockets and users.
		msg = "the database is unavailable; retry later"
	case status >= 500 && status != http.StatusServiceUnavailable:
		msg = "internal error"
	}
	if status == http.StatusServiceUnavailable || status == http.StatusInsufficientStorage {
		c.Header("Retry-After", "30")
	}
	var locked *activation.LockedError
	if errors.As(err, &locked) {
		c.Header("Retry-After", strconv.Itoa(int(locked.RetryAfter(time.Now()).Seconds())+1))
	}
	_ = c.Error(err)
	c.AbortWithStatusJSON(status, gin.H{"error": apiError{Code: code, Message: msg}})
}
