// Package qrstamp: PLACEHOLDER of branch regapi, standing in for the
// package that branch attach implements, with the same names so that the
// signing side compiles before it lands. Delete this file when merging
// attach.
package qrstamp

import (
	"context"
	"errors"

	"esign/pdf"
	"esign/signer"
)

// Options places the stamp: Page is 1-based (default 1); a zero Rect
// takes the default place.
type Options struct {
	Page int
	Rect [4]float64
}

// Stamp is a QR code leading to a URL.
type Stamp struct{ url string }

// New makes a stamp for url.
func New(url string, opts Options) (*Stamp, error) { return &Stamp{url: url}, nil }

// Overlay is not implemented by the placeholder.
func (s *Stamp) Overlay(ctx context.Context, u *pdf.Update) (signer.Placed, error) {
	return signer.Placed{}, errors.New("qrstamp: placeholder; merge branch attach")
}
