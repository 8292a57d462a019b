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
	return contentPaints(data)
}

// contentPaints reports whether a content stream holds an operator that
// puts marks on the page: a path painted, text shown, an XObject, an
// inline image or a shading. It reads tokens only as far as it must to
// tell operators from operands.
func contentPaints(b []byte) bool {
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case isSpace(c):
			i++
		case c == '%':
			for i < len(b) && b[i] != '\n' && b[i] != '\r' {
				i++
			}
		case c == '(':
			i = skipLiteral(b, i)
		case c == '<' && i+1 < len(b) && b[i+1] == '<', c == '>' && i+1 < len(b) && b[i+1] == '>':
			i += 2
		case c == '<':
			for i < len(b) && b[i] != '>' {
				i++
			}
			i++
		case c == '[' || c == ']' || c == '{' || c == '}' || c == '>' || c == ')':
			i++
		case c == '/':
			i++
			for i < len(b) && isRegularByte(b[i]) {
				i++
			}
		default:
			j := i
			for j < len(b) && isRegularByte(b[j]) {
				j++
			}
			if j == i {
				j++
			}
			if paintingOperator(string(b[i:j])) {
				return true
			}
			i = j
		}
	}
	return false
}

func paintingOperator(op string) bool {
	switch op {
	case "S", "s", "f", "F", "f*", "B", "B*", "b", "b*", "sh", "Do", "Tj", "TJ", "'", "\"", "BI", "ID", "EI":
		return true
	}
	return false
}

func skipLiteral(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	return i
}

func isSpace(c byte) bool {
	return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' '
}

func isRegularByte(c byte) bool {
	if isSpace(c) {
		return false
	}
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return false
	}
	return true
}
