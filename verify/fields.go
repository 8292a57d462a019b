package verify

import (
	"errors"
	"fmt"

	"esign/pdf"
)

// Bounds on the form field tree; hostile files may loop it or make it
// enormous.
const (
	maxFieldDepth = 32
	maxFieldNodes = 20000
)

// sigField is a signature field with a value: where a signature lives.
type sigField struct {
	name     string
	fieldRef pdf.Ref // zero when the field is not an indirect object
	field    pdf.Dict
	sigRef   pdf.Ref // zero when /V is a direct dictionary
	sig      pdf.Dict
	err      error // why the signature dictionary cannot be read
}

// findSignatures walks the AcroForm field tree of r and returns the signed
// signature fields, in tree order. more reports that the walk stopped at a
// bound before seeing the whole tree.
func findSignatures(r *pdf.Reader) (out []sigField, more bool, err error) {
	cat, _, err := r.Catalog()
	if err != nil {
		return nil, false, err
	}
	acro, err := r.Dict(cat["AcroForm"])
	if err != nil || acro == nil {
		return nil, false, err
	}
	fields, err := r.Array(acro["Fields"])
	if err != nil {
		return nil, false, err
	}
	w := fieldWalker{r: r, seen: map[pdf.Ref]bool{}, sigs: map[pdf.Ref]bool{}}
	for _, f := range fields {
		w.walk(f, "", nil, 0)
		if w.more {
			break
		}
	}
	return w.out, w.more, errors.Join(w.errs...)
}

type fieldWalker struct {
	r     *pdf.Reader
	seen  map[pdf.Ref]bool
	sigs  map[pdf.Ref]bool // signature dictionaries already listed
	nodes int
	more  bool
	out   []sigField
	errs  []error
}

// skip records why part of the tree was not read; the walk goes on.
func (w *fieldWalker) skip(err error) error {
	if len(w.errs) < 8 {
		w.errs = append(w.errs, err)
	}
	return nil
}

func (w *fieldWalker) walk(o pdf.Object, parent string, inheritedFT pdf.Object, depth int) error {
	if depth > maxFieldDepth {
		return w.skip(fmt.Errorf("%w: form field tree deeper than %d", pdf.ErrSyntax, maxFieldDepth))
	}
	if w.nodes++; w.nodes > maxFieldNodes {
		w.more = true
		return nil
	}
	ref, isRef := o.(pdf.Ref)
	if isRef {
		if w.seen[ref] {
			return nil // a loop or a field listed twice
		}
		w.seen[ref] = true
	}
	d, err := w.r.Dict(o)
	if err != nil {
		return w.skip(fmt.Errorf("field %v: %w", o, err))
	}
	if d == nil {
		return nil
	}
	name := parent
	if t, ok := d["T"].(pdf.String); ok {
		if name != "" {
			name += "."
		}
		name += decodeText(t.Bytes)
	}
	ft := d["FT"]
	if ft == nil {
		ft = inheritedFT
	}
	kids, err := w.r.Array(d["Kids"])
	if err != nil {
		return w.skip(fmt.Errorf("field %q /Kids: %w", name, err))
	}
	childFields := false
	for _, k := range kids {
		kd, err := w.r.Dict(k)
		if err != nil {
			w.skip(fmt.Errorf("field %q kid: %w", name, err))
			continue
		}
		// Kids without /T are widgets of this field, not fields.
		if kd != nil && kd["T"] != nil {
			childFields = true
			if err := w.walk(k, name, ft, depth+1); err != nil {
				return err
			}
			if w.more {
				return nil
			}
		}
	}
	if childFields || ft != pdf.Name("Sig") {
		return nil
	}
	sigRef, _ := d["V"].(pdf.Ref)
	sig, err := w.r.Dict(d["V"])
	if err != nil {
		// A signature that cannot be read is a finding, not a reason to
		// stop looking at the others.
		f := sigField{name: name, sigRef: sigRef, field: d, err: err}
		if isRef {
			f.fieldRef = ref
		}
		w.out = append(w.out, f)
		return nil
	}
	if sig == nil {
		return nil // an empty signature field
	}
	if sigRef != (pdf.Ref{}) {
		if w.sigs[sigRef] {
			return nil
		}
		w.sigs[sigRef] = true
	}
	f := sigField{name: name, field: d, sigRef: sigRef, sig: sig}
	if isRef {
		f.fieldRef = ref
	}
	w.out = append(w.out, f)
	return nil
}

// isSignatureField reports whether the field or widget o is a signature
// field, following /Parent for the inheritable /FT.
func isSignatureField(r *pdf.Reader, o pdf.Object) (bool, pdf.Dict) {
	d, err := r.Dict(o)
	if err != nil || d == nil {
		return false, nil
	}
	cur := d
	for i := 0; i < maxFieldDepth && cur != nil; i++ {
		if ft, ok := cur["FT"].(pdf.Name); ok {
			return ft == "Sig", d
		}
		cur, err = r.Dict(cur["Parent"])
		if err != nil {
			return false, d
		}
	}
	return false, d
}
