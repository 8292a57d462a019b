package appearance

import (
	"fmt"
	"math"

	"esign/pdf"
)

// TextForm draws lines of text centred in a w×h form XObject, with f
// embedded as a subset, and returns the form. The text is set at size
// points, smaller when that is needed to fit. It lets other marks, such
// as a QR code's caption, share the shaping and the PDF/A-safe font
// embedding of signature appearances.
func TextForm(u *pdf.Update, f *Font, lines []string, w, h, size float64) (pdf.Ref, error) {
	if f == nil {
		var err error
		if f, err = Laksaman(); err != nil {
			return pdf.Ref{}, err
		}
	}
	if !(w > 0 && h > 0 && w < 14400 && h < 14400) {
		return pdf.Ref{}, fmt.Errorf("%w: text box %v×%v", ErrOptions, w, h)
	}
	if math.IsNaN(size) || size < 1 || size > 1000 {
		return pdf.Ref{}, fmt.Errorf("%w: font size %v", ErrOptions, size)
	}
	if len(lines) == 0 {
		return pdf.Ref{}, fmt.Errorf("%w: no text", ErrOptions)
	}
	var shaped []shapedLine
	for _, s := range lines {
		if n := len([]rune(s)); n > MaxLineRunes {
			return pdf.Ref{}, fmt.Errorf("%w: a line of %d characters (at most %d)", ErrOptions, n, MaxLineRunes)
		}
		l, err := f.shape(s)
		if err != nil {
			return pdf.Ref{}, err
		}
		shaped = append(shaped, l)
	}
	use := newFontUse(f)
	d := layout(f, use, shaped, false, w, h, size)
	fontRef, err := use.embed(u)
	if err != nil {
		return pdf.Ref{}, err
	}
	form, err := pdf.FlateStream(pdf.Dict{
		"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Form"),
		"BBox":      pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Real(w), pdf.Real(h)},
		"Resources": pdf.Dict{"Font": pdf.Dict{"F1": fontRef}},
	}, d.ops)
	if err != nil {
		return pdf.Ref{}, err
	}
	return u.Add(form), nil
}
