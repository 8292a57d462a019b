package signer

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"

	"esign/pdf"
)

// FieldSpec is an empty signature field to add: the e-Saraban system
// prepares one for each official on the document's route.
type FieldSpec struct {
	Name string     `json:"name"`
	Page int        `json:"page"` // 1-based, as people count pages
	Rect [4]float64 `json:"rect"` // x1 y1 x2 y2 in PDF points from the page's lower left
}

// Bounds of a signature's rectangle, in points. A field AddFields makes
// and a visible appearance share them, so every field made can be signed
// into visibly.
const (
	// MinRectSide is the smallest width and height.
	MinRectSide = 4
	// MaxRectSide is the largest width and height: the largest page side
	// PDF allows (ISO 32000-1 Annex C).
	MaxRectSide = 14400
	// MaxRectCoordinate bounds each coordinate, so that a rectangle is
	// written as a short number every PDF reader takes.
	MaxRectCoordinate = 1e6
)

// CheckRect reports a rectangle [x1 y1 x2 y2] outside those bounds, in
// either corner order. The error only names the problem: callers wrap it
// in their own kind of error.
func CheckRect(r [4]float64) error {
	for _, v := range r {
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > MaxRectCoordinate {
			return fmt.Errorf("rectangle %v: each coordinate must be a number from -%g to %g", r, MaxRectCoordinate, MaxRectCoordinate)
		}
	}
	w, h := math.Abs(r[2]-r[0]), math.Abs(r[3]-r[1])
	if w < MinRectSide || h < MinRectSide || w > MaxRectSide || h > MaxRectSide {
		return fmt.Errorf("rectangle %v is %.1f×%.1f points (want %d to %d each way)", r, w, h, MinRectSide, MaxRectSide)
	}
	return nil
}

// AddFields adds empty signature fields in one incremental update and
// returns what to append. Names must be new; pages must exist.
func AddFields(ctx context.Context, in io.ReaderAt, size int64, specs []FieldSpec) (*Result, error) {
	if len(specs) == 0 || len(specs) > 100 {
		return nil, fmt.Errorf("%w: %d fields (want 1 to 100)", ErrBadOptions, len(specs))
	}
	r, err := openPDF(in, size, nil)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(specs))
	for i, sp := range specs {
		names[i] = fmt.Sprintf("signature field %q", sp.Name)
	}
	if err := checkSignable(r, Options{}, &change{newFields: names}); err != nil {
		return nil, err
	}
	cat, _, err := r.Catalog()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPDF, err)
	}
	// New fields after a certification are changes DocMDP P=1 and P=2
	// both forbid (ISO 32000-1 Table 254): refuse rather than break it.
	if p, err := docMDP(r, cat); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPDF, err)
	} else if p != 0 && p < 3 {
		return nil, fmt.Errorf("%w: adding fields would break the certification (DocMDP P=%d); add them before the first signature", ErrDocMDPForbids, p)
	}
	pages, err := r.PageCount()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPDF, err)
	}
	u := r.NewUpdate()
	f, err := openForm(u)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPDF, err)
	}
	seen := map[string]bool{}
	for _, fl := range f.fields {
		seen[fl.name] = true
	}
	for _, sp := range specs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if sp.Name == "" || strings.Contains(sp.Name, ".") || len(sp.Name) > 127 {
			return nil, fmt.Errorf("%w: field name %q (1-127 characters, no period)", ErrBadOptions, sp.Name)
		}
		if seen[sp.Name] {
			return nil, fmt.Errorf("%w: a field named %q exists", ErrBadOptions, sp.Name)
		}
		seen[sp.Name] = true
		if sp.Page < 1 || sp.Page > pages {
			return nil, fmt.Errorf("%w: field %q on page %d of %d", ErrBadOptions, sp.Name, sp.Page, pages)
		}
		x1, y1, x2, y2 := sp.Rect[0], sp.Rect[1], sp.Rect[2], sp.Rect[3]
		if x2 <= x1 || y2 <= y1 {
			return nil, fmt.Errorf("%w: field %q has an empty rectangle", ErrBadOptions, sp.Name)
		}
		if err := CheckRect(sp.Rect); err != nil {
			return nil, fmt.Errorf("%w: field %q: %v", ErrBadOptions, sp.Name, err)
		}
		if err := addEmptyField(f, sp); err != nil {
			return nil, err
		}
	}
	f.finish()
	upd, _, err := u.Bytes()
	if err != nil {
		return nil, fmt.Errorf("write update: %w", err)
	}
	return &Result{BaseSize: size, Appended: upd, Revisions: 1}, nil
}

// addEmptyField adds an unsigned signature field with its widget. Its
// appearance is an empty box until someone signs.
func addEmptyField(f *form, sp FieldSpec) error {
	pageRef, pageDict, err := f.r.Page(sp.Page - 1)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidPDF, err)
	}
	if cur, err := f.u.Get(pageRef); err == nil {
		if d, ok := cur.(pdf.Dict); ok {
			pageDict = d
		}
	}
	w, h := sp.Rect[2]-sp.Rect[0], sp.Rect[3]-sp.Rect[1]
	ap := f.u.Add(&pdf.Stream{Dict: pdf.Dict{
		"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Form"),
		"BBox": pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Real(w), pdf.Real(h)},
	}, Data: []byte{}})
	rect := pdf.Array{pdf.Real(sp.Rect[0]), pdf.Real(sp.Rect[1]), pdf.Real(sp.Rect[2]), pdf.Real(sp.Rect[3])}
	ref := f.u.Add(pdf.Dict{
		"FT": pdf.Name("Sig"), "T": pdf.TextString(sp.Name),
		"Type": pdf.Name("Annot"), "Subtype": pdf.Name("Widget"),
		"Rect": rect, "P": pageRef, "F": pdf.Integer(4),
		"AP": pdf.Dict{"N": ap},
	})
	if err := addWidget(f.u, pageRef, pageDict, ref); err != nil {
		return err
	}
	if err := f.addField(ref); err != nil {
		return err
	}
	f.fields = append(f.fields, field{ref: ref, name: sp.Name})
	return nil
}
