package signer

import (
	"context"
	"errors"
	"fmt"
	"math"

	"esign/pdf"
)

// maxResourceDepth bounds the walk up /Parent for inherited resources.
const maxResourceDepth = 64

// drawOverlays asks each overlay for its form XObject and paints it on
// its page.
func drawOverlays(ctx context.Context, f *form, overlays []Overlay) error {
	for i, o := range overlays {
		if o == nil {
			return fmt.Errorf("%w: overlay %d is nil", ErrBadOptions, i+1)
		}
		p, err := o.Overlay(ctx, f.u)
		if err != nil {
			return fmt.Errorf("overlay %d: %w", i+1, err)
		}
		if err := paintOverlay(f, p, i+1); err != nil {
			return fmt.Errorf("overlay %d: %w", i+1, err)
		}
	}
	return nil
}

// paintOverlay puts p's XObject on its page. The page's contents become
// [q, the old contents…, Q and the mark], so whatever graphics state the
// old contents leave (a transformation, a clip, a colour) cannot reach
// the mark. The page gets its own direct /Resources: inherited or shared
// resources are copied rather than changed, so no other page gains the
// mark's name.
func paintOverlay(f *form, p Placed, n int) error {
	for _, v := range p.Rect {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: rectangle %v", ErrBadOptions, p.Rect)
		}
	}
	if p.Rect[2] <= p.Rect[0] || p.Rect[3] <= p.Rect[1] {
		return fmt.Errorf("%w: empty rectangle %v", ErrBadOptions, p.Rect)
	}
	pageRef, _, err := f.r.Page(p.Page)
	if errors.Is(err, pdf.ErrNoPage) {
		return fmt.Errorf("%w: page %d: %w", ErrBadOptions, p.Page+1, err)
	}
	if err != nil {
		return fmt.Errorf("%w: page %d: %w", ErrInvalidPDF, p.Page+1, err)
	}
	cur, err := f.u.Get(pageRef)
	if err != nil {
		return fmt.Errorf("%w: page %d: %w", ErrInvalidPDF, p.Page+1, err)
	}
	page, ok := cur.(pdf.Dict)
	if !ok {
		return fmt.Errorf("%w: page %d is not a dictionary", ErrInvalidPDF, p.Page+1)
	}
	page = page.Clone()

	bbox, err := formBBox(f.u, p.XObject)
	if err != nil {
		return err
	}
	res, err := pageResources(f, page)
	if err != nil {
		return fmt.Errorf("%w: page %d resources: %w", ErrInvalidPDF, p.Page+1, err)
	}
	xobjs, err := f.r.Dict(res["XObject"])
	if err != nil {
		return fmt.Errorf("%w: page %d /XObject: %w", ErrInvalidPDF, p.Page+1, err)
	}
	xobjs = xobjs.Clone()
	name := pdf.Name(fmt.Sprintf("EsignMark%d", n))
	for i := 2; xobjs[name] != nil; i++ {
		name = pdf.Name(fmt.Sprintf("EsignMark%d_%d", n, i))
	}
	xobjs[name] = p.XObject
	res["XObject"] = xobjs
	page["Resources"] = res

	old, err := contentStreams(f.u, page["Contents"])
	if err != nil {
		return fmt.Errorf("%w: page %d contents: %w", ErrInvalidPDF, p.Page+1, err)
	}
	// The matrix maps the form's bounding box onto the rectangle.
	sx := (p.Rect[2] - p.Rect[0]) / (bbox[2] - bbox[0])
	sy := (p.Rect[3] - p.Rect[1]) / (bbox[3] - bbox[1])
	tx, ty := p.Rect[0]-bbox[0]*sx, p.Rect[1]-bbox[1]*sy
	// An artifact to tagged PDF (ISO 32000-2 §14.8.2.2): a mark is not
	// part of the document's logical content, and PDF/A-3a and PDF/UA
	// want untagged content marked so.
	mark := []byte("Q\nq /Artifact BMC ")
	for _, v := range []float64{sx, 0, 0, sy, tx, ty} {
		mark = pdf.AppendObject(mark, pdf.Real(v))
		mark = append(mark, ' ')
	}
	mark = append(mark, "cm "...)
	mark = pdf.AppendObject(mark, name)
	mark = append(mark, " Do EMC Q\n"...)
	contents := pdf.Array{f.u.Add(&pdf.Stream{Dict: pdf.Dict{}, Data: []byte("q\n")})}
	contents = append(contents, old...)
	contents = append(contents, f.u.Add(&pdf.Stream{Dict: pdf.Dict{}, Data: mark}))
	page["Contents"] = contents
	f.u.Set(pageRef, page)
	return nil
}

// formBBox reads the /BBox of a form XObject the overlay added.
func formBBox(u *pdf.Update, ref pdf.Ref) ([4]float64, error) {
	var b [4]float64
	o, err := u.Get(ref)
	if err != nil {
		return b, fmt.Errorf("read overlay form: %w", err)
	}
	st, ok := o.(*pdf.Stream)
	if !ok || st.Dict["Subtype"] != pdf.Name("Form") {
		return b, fmt.Errorf("overlay %v is not a form XObject", ref)
	}
	arr, _ := st.Dict["BBox"].(pdf.Array)
	if len(arr) != 4 {
		return b, fmt.Errorf("overlay form has no /BBox")
	}
	for i, v := range arr {
		switch n := v.(type) {
		case pdf.Integer:
			b[i] = float64(n)
		case pdf.Real:
			b[i] = float64(n)
		default:
			return b, fmt.Errorf("overlay form /BBox %v", arr)
		}
	}
	if b[2] <= b[0] || b[3] <= b[1] {
		return b, fmt.Errorf("overlay form has an empty /BBox %v", arr)
	}
	return b, nil
}

// pageResources returns a direct copy of the page's resources: its own,
// else the nearest ancestor's (resources are inheritable, ISO 32000-2
// Table 31).
func pageResources(f *form, page pdf.Dict) (pdf.Dict, error) {
	node := page
	seen := map[pdf.Ref]bool{}
	for depth := 0; depth < maxResourceDepth; depth++ {
		if node["Resources"] != nil {
			res, err := f.r.Dict(node["Resources"])
			if err != nil {
				return nil, err
			}
			if res == nil {
				return nil, fmt.Errorf("/Resources is not a dictionary")
			}
			return res.Clone(), nil
		}
		parent, ok := node["Parent"].(pdf.Ref)
		if !ok || seen[parent] {
			return pdf.Dict{}, nil
		}
		seen[parent] = true
		d, err := f.r.Dict(parent)
		if err != nil {
			return nil, err
		}
		if d == nil {
			return pdf.Dict{}, nil
		}
		node = d
	}
	return nil, fmt.Errorf("page tree deeper than %d", maxResourceDepth)
}

// contentStreams lists the page's content streams as references.
func contentStreams(u *pdf.Update, c pdf.Object) (pdf.Array, error) {
	switch v := c.(type) {
	case nil:
		return nil, nil
	case pdf.Array:
		return v, nil
	case pdf.Ref:
		o, err := u.Get(v)
		if err != nil {
			return nil, err
		}
		switch w := o.(type) {
		case *pdf.Stream:
			return pdf.Array{v}, nil
		case pdf.Array:
			return w, nil
		case nil:
			return nil, nil
		}
	}
	return nil, fmt.Errorf("/Contents is neither a stream nor an array")
}
