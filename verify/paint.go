package verify

import (
	"math"

	"esign/pdf"
)

// Annotation flags (ISO 32000-2 Table 167) that keep an annotation from
// being drawn on screen.
const (
	annotHidden = 1 << 1
	annotNoView = 1 << 5
)

// maxAppearanceBytes bounds the appearance data scanned for painting
// operators; a longer stream is taken to paint.
const maxAppearanceBytes = 1 << 20

// annotRect is the annotation's /Rect as [x1 y1 x2 y2] with x1 <= x2 and
// y1 <= y2, or nil when it has none.
func annotRect(r *pdf.Reader, a pdf.Dict) []float64 {
	arr, _ := r.Array(a["Rect"])
	if len(arr) != 4 {
		return nil
	}
	var v [4]float64
	for i, o := range arr {
		switch x := o.(type) {
		case pdf.Integer:
			v[i] = float64(x)
		case pdf.Real:
			v[i] = float64(x)
		default:
			return nil
		}
		if math.IsNaN(v[i]) || math.IsInf(v[i], 0) {
			return nil
		}
	}
	return []float64{min(v[0], v[2]), min(v[1], v[3]), max(v[0], v[2]), max(v[1], v[3])}
}

// paints reports whether a viewer draws anything for annotation a: it is
// not hidden, has an area, and an appearance of it (normal, rollover or
// down) holds a painting operator, or it asks the viewer for a border or
// background. Unreadable appearances count as painting.
func paints(r *pdf.Reader, a pdf.Dict) bool {
	if f, ok := a["F"].(pdf.Integer); ok && f&(annotHidden|annotNoView) != 0 {
		return false
	}
	rect := annotRect(r, a)
	if rect == nil || rect[2]-rect[0] < 1e-6 || rect[3]-rect[1] < 1e-6 {
		return false
	}
	if mk, _ := r.Dict(a["MK"]); mk != nil && (mk["BG"] != nil || mk["BC"] != nil) {
		return true
	}
	ap, err := r.Dict(a["AP"])
	if err != nil {
		return true
	}
	for _, key := range []pdf.Name{"N", "R", "D"} {
		o, err := r.Resolve(ap[key])
		if err != nil {
			return true
		}
		switch x := o.(type) {
		case *pdf.Stream:
			if streamPaints(r, x) {
				return true
			}
		case pdf.Dict: // appearance states
			n := 0
			for _, st := range x {
				if n++; n > 64 {
					return true
				}
				so, err := r.Resolve(st)
				if err != nil {
					return true
				}
				if s, ok := so.(*pdf.Stream); ok && streamPaints(r, s) {
					return true
				}
			}
		}
	}
	return false
}

func streamPaints(r *pdf.Reader, st *pdf.Stream) bool {
	data, err := r.StreamData(st)
	if err != nil || len(data) > maxAppearanceBytes {
		return true
	}
	return pdf.ContentPaints(data)
}
