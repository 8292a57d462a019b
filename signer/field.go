package signer

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"esign/pdf"
)

// Appearance draws a visible signature. The signer calls it while it
// builds the update; a nil Appearance makes an invisible signature.
type Appearance interface {
	// Widget adds the appearance stream (a form XObject) to u and says
	// where the widget goes.
	Widget(ctx context.Context, u *pdf.Update, info AppearanceInfo) (Widget, error)
}

// AppearanceInfo is what an appearance may show.
type AppearanceInfo struct {
	Certificate *x509.Certificate
	Name        string // the signer's name as /Name carries it
	Reason      string
	Location    string
	Time        time.Time // the claimed signing time
	// Placed, when not nil, is the place of an existing empty field the
	// signature fills: the appearance must use its rectangle. Its Page is
	// left at 0, because the field's widget already sits on its page and
	// only the appearance stream is taken from the result.
	Placed *Widget
}

// Widget places a signature on a page.
type Widget struct {
	Page   int        // 0-based
	Rect   [4]float64 // in default user space
	Normal pdf.Ref    // the normal appearance, a form XObject
}

// field describes a signature field found in the AcroForm.
type field struct {
	ref    pdf.Ref
	dict   pdf.Dict
	name   string // fully qualified
	signed bool
	value  pdf.Dict // the signature dictionary, when signed
}

// formFields lists the terminal signature fields, walking the field tree
// with a bound so a hostile form cannot make the walk endless.
func formFields(r *pdf.Reader, acro pdf.Dict) ([]field, error) {
	var out []field
	seen := map[pdf.Ref]bool{}
	var walk func(o pdf.Object, parent string, depth int) error
	walk = func(o pdf.Object, parent string, depth int) error {
		if depth > 32 || len(seen) > 10000 {
			return fmt.Errorf("%w: form field tree too deep or too large", pdf.ErrSyntax)
		}
		ref, isRef := o.(pdf.Ref)
		if isRef {
			if seen[ref] {
				return nil
			}
			seen[ref] = true
		}
		d, err := r.Dict(o)
		if err != nil || d == nil {
			return err
		}
		name := parent
		if t, ok := d["T"].(pdf.String); ok {
			if name != "" {
				name += "."
			}
			name += pdf.DecodeText(t.Bytes)
		}
		kids, err := r.Array(d["Kids"])
		if err != nil {
			return err
		}
		// Kids without /T are widgets of this field, not child fields.
		hasChildFields := false
		for _, k := range kids {
			kd, err := r.Dict(k)
			if err != nil {
				return err
			}
			if kd != nil && kd["T"] != nil {
				hasChildFields = true
				if err := walk(k, name, depth+1); err != nil {
					return err
				}
			}
		}
		if hasChildFields || !isRef {
			return nil
		}
		ft := d["FT"]
		if ft == nil && parent != "" {
			ft = pdf.Name("") // inherited; rare for signatures
		}
		if ft != pdf.Name("Sig") {
			return nil
		}
		v, err := r.Dict(d["V"])
		if err != nil {
			return err
		}
		out = append(out, field{ref: ref, dict: d, name: name, signed: v != nil, value: v})
		return nil
	}
	fields, err := r.Array(acro["Fields"])
	if err != nil {
		return nil, err
	}
	for _, f := range fields {
		if err := walk(f, "", 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// nextFieldName picks prefix+N, the first number not taken.
func nextFieldName(fields []field, prefix string) string {
	taken := map[string]bool{}
	for _, f := range fields {
		taken[f.name] = true
	}
	for n := 1; ; n++ {
		name := fmt.Sprintf("%s%d", prefix, n)
		if !taken[name] {
			return name
		}
	}
}

// docMDP returns the DocMDP permission level of a certified document, or 0.
func docMDP(r *pdf.Reader, cat pdf.Dict) (int, error) {
	perms, err := r.Dict(cat["Perms"])
	if err != nil || perms == nil {
		return 0, err
	}
	sig, err := r.Dict(perms["DocMDP"])
	if err != nil || sig == nil {
		return 0, err
	}
	refs, err := r.Array(sig["Reference"])
	if err != nil {
		return 0, err
	}
	for _, ro := range refs {
		rd, err := r.Dict(ro)
		if err != nil {
			return 0, err
		}
		if rd == nil || rd["TransformMethod"] != pdf.Name("DocMDP") {
			continue
		}
		params, err := r.Dict(rd["TransformParams"])
		if err != nil {
			return 0, err
		}
		if p, ok := params["P"].(pdf.Integer); ok && p >= 1 && p <= 3 {
			return int(p), nil
		}
		return 2, nil // the default when /P is absent (Table 254)
	}
	return 0, nil
}

// form is the update's view of the catalog and AcroForm: it collects the
// changes one revision makes and writes each changed object once.
type form struct {
	u        *pdf.Update
	r        *pdf.Reader
	catRef   pdf.Ref
	cat      pdf.Dict // clone, written when catDirty
	catDirty bool
	acroRef  pdf.Ref // zero when the AcroForm is direct in the catalog
	acro     pdf.Dict
	fields   []field
}

func openForm(u *pdf.Update) (*form, error) {
	r := u.Reader()
	cat, catRef, err := r.Catalog()
	if err != nil {
		return nil, err
	}
	f := &form{u: u, r: r, catRef: catRef, cat: cat.Clone()}
	switch a := cat["AcroForm"].(type) {
	case pdf.Ref:
		d, err := r.Dict(a)
		if err != nil {
			return nil, fmt.Errorf("read AcroForm: %w", err)
		}
		if d != nil {
			f.acroRef, f.acro = a, d.Clone()
		}
	case pdf.Dict:
		f.acro = a.Clone()
	}
	if f.acro != nil {
		if f.fields, err = formFields(r, f.acro); err != nil {
			return nil, fmt.Errorf("read form fields: %w", err)
		}
	}
	return f, nil
}

// addField appends a new field to /Fields and sets SigFlags.
func (f *form) addField(ref pdf.Ref) error {
	if f.acro == nil {
		f.acro = pdf.Dict{}
	}
	switch fa := f.acro["Fields"].(type) {
	case pdf.Ref:
		arr, err := f.r.Array(fa)
		if err != nil {
			return fmt.Errorf("%w: read /Fields: %w", ErrInvalidPDF, err)
		}
		// Replace the array object itself: the AcroForm stays untouched.
		f.u.Set(fa, append(append(pdf.Array{}, arr...), ref))
	case pdf.Array:
		f.acro["Fields"] = append(append(pdf.Array{}, fa...), ref)
	default:
		f.acro["Fields"] = pdf.Array{ref}
	}
	return nil
}

// finish writes the AcroForm (SigFlags: SignaturesExist|AppendOnly) and
// the catalog if they changed.
func (f *form) finish() {
	if f.acro == nil {
		f.acro = pdf.Dict{"Fields": pdf.Array{}}
	}
	f.acro["SigFlags"] = pdf.Integer(3)
	if f.acroRef != (pdf.Ref{}) {
		f.u.Set(f.acroRef, f.acro)
	} else {
		ref := f.u.Add(f.acro)
		f.acroRef = ref
		f.cat["AcroForm"] = ref
		f.catDirty = true
	}
	if f.catDirty {
		f.u.Set(f.catRef, f.cat)
	}
}

// addWidget links a widget annotation to its page's /Annots.
func addWidget(u *pdf.Update, page pdf.Ref, pageDict pdf.Dict, widget pdf.Ref) error {
	switch a := pageDict["Annots"].(type) {
	case pdf.Ref:
		cur, err := u.Get(a)
		if err != nil {
			return fmt.Errorf("%w: read page /Annots: %w", ErrInvalidPDF, err)
		}
		arr, _ := cur.(pdf.Array)
		u.Set(a, append(append(pdf.Array{}, arr...), widget))
		return nil
	case pdf.Array:
		pd := pageDict.Clone()
		pd["Annots"] = append(append(pdf.Array{}, a...), widget)
		u.Set(page, pd)
	default:
		pd := pageDict.Clone()
		pd["Annots"] = pdf.Array{widget}
		u.Set(page, pd)
	}
	return nil
}

// placeSignature makes (or fills) the signature field that holds sigRef.
// An existing empty field named name is used; otherwise a new field with
// an invisible or drawn widget is made. lock, when set, is the field's
// FieldMDP /Lock.
func placeSignature(ctx context.Context, f *form, name string, sigRef pdf.Ref, app Appearance, info AppearanceInfo, lock pdf.Dict) (string, error) {
	for _, fld := range f.fields {
		if fld.name != name {
			continue
		}
		if fld.signed {
			return "", fmt.Errorf("%w: field %q", ErrFieldSigned, name)
		}
		if fld.dict == nil {
			return "", fmt.Errorf("%w: field %q was added in this update", ErrBadOptions, name)
		}
		// An existing field keeps its own dictionary apart from /V (and
		// the appearance): the lock is enforced through the signature's
		// FieldMDP reference, so the field need not change more than this.
		d := fld.dict.Clone()
		d["V"] = sigRef
		if app != nil {
			if err := drawInField(ctx, f, fld.ref, d, app, info); err != nil {
				return "", err
			}
		}
		f.u.Set(fld.ref, d)
		return name, nil
	}
	if strings.ContainsAny(name, ".") {
		return "", fmt.Errorf("%w: field name %q may not contain a period", ErrBadOptions, name)
	}
	w := Widget{}
	if app != nil {
		var err error
		if w, err = app.Widget(ctx, f.u, info); err != nil {
			return "", fmt.Errorf("draw appearance: %w", err)
		}
	} else {
		// An empty appearance keeps PDF/A validators content: every widget
		// has /AP, even one of zero size.
		w.Normal = f.u.Add(&pdf.Stream{Dict: pdf.Dict{
			"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Form"),
			"BBox": pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Integer(0), pdf.Integer(0)},
		}, Data: []byte{}})
	}
	pageRef, pageDict, err := f.r.Page(w.Page)
	if errors.Is(err, pdf.ErrNoPage) {
		return "", fmt.Errorf("%w: signature page %d: %w", ErrBadOptions, w.Page+1, err)
	}
	if err != nil {
		return "", fmt.Errorf("%w: signature page: %w", ErrInvalidPDF, err)
	}
	if cur, err := f.u.Get(pageRef); err == nil {
		if d, ok := cur.(pdf.Dict); ok {
			pageDict = d
		}
	}
	rect := pdf.Array{}
	for _, v := range w.Rect {
		rect = append(rect, pdf.Real(v))
	}
	fd := pdf.Dict{
		"FT": pdf.Name("Sig"), "T": pdf.TextString(name), "V": sigRef,
		"Type": pdf.Name("Annot"), "Subtype": pdf.Name("Widget"),
		"Rect": rect, "P": pageRef,
		// Print and Locked: PDF/A needs Print, and nobody should move it.
		"F":  pdf.Integer(4 | 128),
		"AP": pdf.Dict{"N": w.Normal},
	}
	if lock != nil {
		fd["Lock"] = lock
	}
	fieldRef := f.u.Add(fd)
	if err := addWidget(f.u, pageRef, pageDict, fieldRef); err != nil {
		return "", err
	}
	if err := f.addField(fieldRef); err != nil {
		return "", err
	}
	return name, nil
}

// drawInField draws a visible appearance into an existing field's widget:
// the field itself when it is merged with its widget, else its first kid.
func drawInField(ctx context.Context, f *form, ref pdf.Ref, d pdf.Dict, app Appearance, info AppearanceInfo) error {
	widgetRef, widget := ref, d
	if d["Rect"] == nil {
		kids, err := f.r.Array(d["Kids"])
		if err != nil || len(kids) == 0 {
			return fmt.Errorf("%w: field has no widget to draw in", ErrBadOptions)
		}
		kr, ok := kids[0].(pdf.Ref)
		if !ok {
			return fmt.Errorf("%w: field widget is not an indirect object", ErrInvalidPDF)
		}
		kd, err := f.r.Dict(kr)
		if err != nil || kd == nil {
			return fmt.Errorf("%w: read field widget: %v", ErrInvalidPDF, err)
		}
		widgetRef, widget = kr, kd.Clone()
	}
	rect, err := f.r.Array(widget["Rect"])
	if err != nil || len(rect) != 4 {
		return fmt.Errorf("%w: field widget has no /Rect", ErrInvalidPDF)
	}
	var place Widget
	for i, v := range rect {
		switch n := v.(type) {
		case pdf.Integer:
			place.Rect[i] = float64(n)
		case pdf.Real:
			place.Rect[i] = float64(n)
		}
	}
	info.Placed = &place
	w, err := app.Widget(ctx, f.u, info)
	if err != nil {
		return fmt.Errorf("draw appearance: %w", err)
	}
	widget["AP"] = pdf.Dict{"N": w.Normal}
	if widgetRef == ref {
		d["AP"] = widget["AP"]
		return nil
	}
	f.u.Set(widgetRef, widget)
	return nil
}

// catSubDict returns a copy of the catalog's dictionary entry key to
// change, and its reference when it is an indirect object; a new one when
// there is none.
func (f *form) catSubDict(key pdf.Name) (pdf.Dict, pdf.Ref, error) {
	switch v := f.cat[key].(type) {
	case pdf.Ref:
		cur, err := f.u.Get(v)
		if err != nil {
			return nil, pdf.Ref{}, err
		}
		d, ok := cur.(pdf.Dict)
		if !ok {
			if cur == nil {
				return pdf.Dict{}, pdf.Ref{}, nil
			}
			return nil, pdf.Ref{}, fmt.Errorf("catalog /%s is not a dictionary", key)
		}
		return d.Clone(), v, nil
	case pdf.Dict:
		return v.Clone(), pdf.Ref{}, nil
	case nil:
		return pdf.Dict{}, pdf.Ref{}, nil
	default:
		return nil, pdf.Ref{}, fmt.Errorf("catalog /%s is not a dictionary", key)
	}
}

// setCatSubDict writes back what catSubDict returned.
func (f *form) setCatSubDict(key pdf.Name, d pdf.Dict, ref pdf.Ref) {
	if ref != (pdf.Ref{}) {
		f.u.Set(ref, d)
		return
	}
	f.cat[key] = d
	f.catDirty = true
}
