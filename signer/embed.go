package signer

import (
	"context"
	"errors"
	"time"

	"esign/pdf"
)

var (
	// ErrAttachmentForbidden reports an attachment on a PDF/A-1 or PDF/A-2
	// input, whose parts forbid such embedded files (ISO 19005-1 §6.1.11,
	// ISO 19005-2 §6.8): the API answers 422.
	ErrAttachmentForbidden = errors.New("signer: the document's PDF/A part forbids attached files")
	// ErrAlreadySigned reports an attachment or overlay asked for on a
	// document that already carries signatures: adding either after
	// signing is a change that recipients should not have to judge, so
	// the API answers 409.
	ErrAlreadySigned = errors.New("signer: the document is already signed; files and marks can only be added before the first signature")
)

// Attachment is a file embedded in the signature's own revision, before
// the signature is computed, so that the signature covers it: an
// associated file in the sense of ISO 32000-2 §14.13 and ISO 19005-3.
type Attachment struct {
	// Name is the file name written to /F and /UF.
	Name string
	// MIME is the media type written to /Subtype, such as
	// "application/xml".
	MIME string
	// Relationship is /AFRelationship: Data (default), Source,
	// Alternative or Supplement.
	Relationship string
	// Description is written to /Desc when not empty.
	Description string
	// Data is the file's content.
	Data []byte
	// ModDate is /Params /ModDate. Default: the signing time.
	ModDate time.Time
}

// Overlay draws on a page in the signature's revision, before the
// signature is computed, such as a QR code that leads to the
// verification page of the document.
type Overlay interface {
	// Overlay adds its form XObject (and what it uses) to u and says where
	// it goes.
	Overlay(ctx context.Context, u *pdf.Update) (Placed, error)
}

// Placed puts a form XObject on a page.
type Placed struct {
	Page    int        // 0-based
	Rect    [4]float64 // in default user space
	XObject pdf.Ref
}
