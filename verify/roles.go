package verify

import "esign/pdf"

// roleMap says what the indirect objects of a signed revision are, so a
// later change to one can be judged: the catalog, the form and its fields,
// the pages with their contents and annotations, the DSS.
type roleMap struct {
	catalog, info, metadata uint32
	acro, fieldsArr         uint32
	fields                  map[uint32]*fieldRole
	sigDicts                map[uint32]bool
	pageNodes               map[uint32]bool
	pages                   map[uint32]int // page object -> 0-based index
	contents                map[uint32]int // content stream (or array) -> page index
	annotsArr               map[uint32]int // /Annots array -> page index
	annots                  map[uint32]string
	appearance              map[uint32]uint32 // appearance stream -> its annotation
	dss                     map[uint32]bool
	budget                  *int // nodes the call may still walk
	exhausted               bool
}

// fieldRole describes a form field or one of its widgets.
type fieldRole struct {
	name   string
	isSig  bool
	signed bool
}

func (rm *roleMap) hasPage(n uint32) bool       { _, ok := rm.pages[n]; return ok }
func (rm *roleMap) hasContents(n uint32) bool   { _, ok := rm.contents[n]; return ok }
func (rm *roleMap) hasAnnotsArr(n uint32) bool  { _, ok := rm.annotsArr[n]; return ok }
func (rm *roleMap) hasAppearance(n uint32) bool { _, ok := rm.appearance[n]; return ok }

func (rm *roleMap) spend() bool {
	if *rm.budget <= 0 {
		rm.exhausted = true
		return false
	}
	*rm.budget--
	return true
}

func refNum(o pdf.Object) uint32 {
	if r, ok := o.(pdf.Ref); ok {
		return r.Num
	}
	return 0
}

// roleMap builds the map of the old revision once per differ.
func (d *differ) roleMap() *roleMap {
	if d.roles != nil {
		return d.roles
	}
	r := d.old
	rm := &roleMap{
		fields: map[uint32]*fieldRole{}, sigDicts: map[uint32]bool{}, pageNodes: map[uint32]bool{},
		pages: map[uint32]int{}, contents: map[uint32]int{}, annotsArr: map[uint32]int{},
		annots: map[uint32]string{}, appearance: map[uint32]uint32{}, dss: map[uint32]bool{},
		budget: &d.v.roleBudget,
	}
	d.roles = rm
	defer func() {
		if rm.exhausted {
			d.incomplete = true
		}
	}()
	rm.info = refNum(r.Trailer()["Info"])
	cat, catRef, err := r.Catalog()
	if err != nil {
		return rm
	}
	rm.catalog = catRef.Num
	rm.metadata = refNum(cat["Metadata"])
	rm.readDSS(r, cat["DSS"])
	rm.readForm(r, cat["AcroForm"])
	rm.readPages(r, cat["Pages"])
	return rm
}

func (rm *roleMap) readDSS(r *pdf.Reader, o pdf.Object) {
	var mark func(o pdf.Object, depth int)
	mark = func(o pdf.Object, depth int) {
		if depth > 4 || !rm.spend() {
			return
		}
		if n := refNum(o); n != 0 {
			if rm.dss[n] {
				return
			}
			rm.dss[n] = true
		}
		v, err := r.Resolve(o)
		if err != nil {
			return
		}
		switch x := v.(type) {
		case pdf.Dict:
			for _, e := range x {
				mark(e, depth+1)
			}
		case pdf.Array:
			for _, e := range x {
				mark(e, depth+1)
			}
		}
	}
	if o != nil {
		mark(o, 0)
	}
}

func (rm *roleMap) readForm(r *pdf.Reader, o pdf.Object) {
	rm.acro = refNum(o)
	acro, err := r.Dict(o)
	if err != nil || acro == nil {
		return
	}
	rm.fieldsArr = refNum(acro["Fields"])
	fields, err := r.Array(acro["Fields"])
	if err != nil {
		return
	}
	var walk func(o pdf.Object, parent string, ft pdf.Object, depth int)
	walk = func(o pdf.Object, parent string, ft pdf.Object, depth int) {
		if depth > maxFieldDepth || !rm.spend() {
			return
		}
		n := refNum(o)
		if n != 0 && rm.fields[n] != nil {
			return
		}
		fd, err := r.Dict(o)
		if err != nil || fd == nil {
			return
		}
		name := parent
		if t := text(r, fd["T"]); t != "" {
			if name != "" {
				name += "."
			}
			name += t
		}
		if f := fd["FT"]; f != nil {
			ft = f
		}
		fr := &fieldRole{name: name, isSig: ft == pdf.Name("Sig"), signed: fd["V"] != nil}
		if n != 0 {
			rm.fields[n] = fr
		}
		if fr.isSig {
			if sn := refNum(fd["V"]); sn != 0 {
				rm.sigDicts[sn] = true
			}
		}
		rm.readAppearance(r, fd, n)
		kids, _ := r.Array(fd["Kids"])
		for _, k := range kids {
			kd, _ := r.Dict(k)
			if kd == nil {
				continue
			}
			if kd["T"] != nil {
				walk(k, name, ft, depth+1)
				continue
			}
			// A widget of this field.
			if kn := refNum(k); kn != 0 && rm.fields[kn] == nil && rm.spend() {
				rm.fields[kn] = &fieldRole{name: name, isSig: fr.isSig, signed: fr.signed}
				rm.readAppearance(r, kd, kn)
			}
		}
	}
	for _, f := range fields {
		walk(f, "", nil, 0)
	}
}

// readAppearance records the appearance streams of annotation owner.
func (rm *roleMap) readAppearance(r *pdf.Reader, annot pdf.Dict, owner uint32) {
	if owner == 0 {
		return
	}
	if n := refNum(annot["AP"]); n != 0 {
		rm.appearance[n] = owner
	}
	ap, _ := r.Dict(annot["AP"])
	for _, key := range []pdf.Name{"N", "R", "D"} {
		v := ap[key]
		if n := refNum(v); n != 0 {
			rm.appearance[n] = owner
		}
		// A dictionary of appearance states.
		if st, _ := r.Resolve(v); st != nil {
			if sd, ok := st.(pdf.Dict); ok {
				for _, s := range sd {
					if n := refNum(s); n != 0 && rm.spend() {
						rm.appearance[n] = owner
					}
				}
			}
		}
	}
}

func (rm *roleMap) readPages(r *pdf.Reader, root pdf.Object) {
	idx := 0
	var walk func(o pdf.Object, depth int)
	walk = func(o pdf.Object, depth int) {
		n := refNum(o)
		if depth > 64 || n == 0 || rm.pageNodes[n] || rm.hasPage(n) || !rm.spend() {
			return
		}
		pd, err := r.Dict(o)
		if err != nil || pd == nil {
			return
		}
		if pd["Type"] == pdf.Name("Pages") || (pd["Kids"] != nil && pd["Type"] != pdf.Name("Page")) {
			rm.pageNodes[n] = true
			kids, _ := r.Array(pd["Kids"])
			for _, k := range kids {
				walk(k, depth+1)
			}
			return
		}
		rm.pages[n] = idx
		if c := refNum(pd["Contents"]); c != 0 {
			rm.contents[c] = idx
		}
		if arr, _ := r.Array(pd["Contents"]); arr != nil {
			for _, c := range arr {
				if cn := refNum(c); cn != 0 {
					rm.contents[cn] = idx
				}
			}
		}
		if a := refNum(pd["Annots"]); a != 0 {
			rm.annotsArr[a] = idx
		}
		annots, _ := r.Array(pd["Annots"])
		for _, a := range annots {
			an := refNum(a)
			if an == 0 || !rm.spend() {
				continue
			}
			if rm.fields[an] != nil {
				continue // a widget, known from the form
			}
			ad, _ := r.Dict(a)
			if ad == nil {
				continue
			}
			sub, _ := ad["Subtype"].(pdf.Name)
			if sub == "" {
				sub = "untyped"
			}
			rm.annots[an] = string(sub)
			rm.readAppearance(r, ad, an)
		}
		idx++
	}
	walk(root, 0)
}
