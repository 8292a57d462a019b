package verify

import (
	"math"

	"esign/pdf"
)

// Annotation flags (ISO 32000-2 Table 167): Hidden keeps an annotation
// from being drawn or printed; NoView from the screen only, so with Print
// it still shows on paper.
const (
	annotHidden = 1 << 1
	annotPrint  = 1 << 2
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

// paints reports whether a viewer draws anything for annotation a, on
// screen or on paper: it is not hidden, has an area, and an appearance of
// it (normal, rollover or down) holds a painting operator, or it asks the
// viewer for a border or background, or it has no appearance and viewers
// make one (annotations other than widgets; widgets of fields with a
// value, or of a form that asks for appearances). Unreadable appearances
// count as painting.
func paints(r *pdf.Reader, a pdf.Dict) bool {
	if f, ok := a["F"].(pdf.Integer); ok && (f&annotHidden != 0 || f&annotNoView != 0 && f&annotPrint == 0) {
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
	if ap == nil {
		return viewerDraws(r, a)
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

// viewerDraws reports whether viewers make an appearance for annotation a,
// which has none.
func viewerDraws(r *pdf.Reader, a pdf.Dict) bool {
	if a["Subtype"] != pdf.Name("Widget") {
		return true
	}
	if cat, _, err := r.Catalog(); err == nil {
		if acro, _ := r.Dict(cat["AcroForm"]); acro != nil && acro["NeedAppearances"] == pdf.Bool(true) {
			return true
		}
	}
	isSig, _ := isSignatureField(r, a)
	return !isSig && fieldValue(r, a) != nil
}

// fieldValue is the /V of the field a widget belongs to, inherited.
func fieldValue(r *pdf.Reader, w pdf.Dict) pdf.Object {
	cur := w
	for i := 0; i < maxFieldDepth && cur != nil; i++ {
		if v := cur["V"]; v != nil {
			return v
		}
		cur, _ = r.Dict(cur["Parent"])
	}
	return nil
}

func streamPaints(r *pdf.Reader, st *pdf.Stream) bool {
	data, err := r.StreamData(st)
	if err != nil || len(data) > maxAppearanceBytes {
		return true
	}
	return pdf.ContentPaints(data)
}
