package signer

import (
	"bytes"
	"fmt"
	"slices"

	"esign/pdf"
)

// Bounds on walking a name tree from the input (ISO 32000-2 §7.9.6): a
// hostile file may make it deep, wide or circular.
const (
	maxNameTreeDepth   = 32
	maxNameTreeNodes   = 10000
	maxNameTreeEntries = 100000
)

// nameTree is a name tree of the input as the update sees it.
type nameTree struct {
	u *pdf.Update
	// keys are every key of the tree, as stored (PDF strings compare
	// byte by byte).
	keys map[string]bool
}

// readNameTree walks the tree at root and collects its keys, refusing
// loops, excessive depth or size, and nodes that are not what §7.9.6 says
// they are.
func readNameTree(u *pdf.Update, root pdf.Object) (*nameTree, error) {
	t := &nameTree{u: u, keys: map[string]bool{}}
	if root == nil {
		return t, nil
	}
	seen := map[pdf.Ref]bool{}
	nodes := 0
	var walk func(o pdf.Object, depth int) error
	walk = func(o pdf.Object, depth int) error {
		if depth > maxNameTreeDepth {
			return fmt.Errorf("name tree deeper than %d", maxNameTreeDepth)
		}
		if nodes++; nodes > maxNameTreeNodes {
			return fmt.Errorf("name tree of more than %d nodes", maxNameTreeNodes)
		}
		if ref, ok := o.(pdf.Ref); ok {
			if seen[ref] {
				return fmt.Errorf("name tree node %v reached twice", ref)
			}
			seen[ref] = true
		}
		d, err := t.dict(o)
		if err != nil {
			return err
		}
		if d == nil {
			return fmt.Errorf("name tree node %v is not a dictionary", o)
		}
		if d["Kids"] != nil {
			kids, err := t.array(d["Kids"])
			if err != nil {
				return err
			}
			if kids == nil {
				return fmt.Errorf("name tree node %v: /Kids is not an array", o)
			}
			for _, k := range kids {
				if err := walk(k, depth+1); err != nil {
					return err
				}
			}
		}
		if d["Names"] != nil {
			names, err := t.array(d["Names"])
			if err != nil {
				return err
			}
			if names == nil || len(names)%2 != 0 {
				return fmt.Errorf("name tree node %v: /Names is not an array of pairs", o)
			}
			for i := 0; i < len(names); i += 2 {
				k, ok := names[i].(pdf.String)
				if !ok {
					return fmt.Errorf("name tree node %v: key %d is not a string", o, i/2)
				}
				if len(t.keys) >= maxNameTreeEntries {
					return fmt.Errorf("name tree of more than %d entries", maxNameTreeEntries)
				}
				t.keys[string(k.Bytes)] = true
			}
		}
		return nil
	}
	if err := walk(root, 0); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *nameTree) resolve(o pdf.Object) (pdf.Object, error) {
	for i := 0; i < 8; i++ {
		ref, ok := o.(pdf.Ref)
		if !ok {
			return o, nil
		}
		var err error
		if o, err = t.u.Get(ref); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("chain of references too long")
}

func (t *nameTree) dict(o pdf.Object) (pdf.Dict, error) {
	o, err := t.resolve(o)
	if err != nil {
		return nil, err
	}
	d, _ := o.(pdf.Dict)
	return d, nil
}

func (t *nameTree) array(o pdf.Object) (pdf.Array, error) {
	o, err := t.resolve(o)
	if err != nil {
		return nil, err
	}
	a, _ := o.(pdf.Array)
	return a, nil
}

// uniqueKey returns name, or name with " (2)", " (3)"… before its
// extension when the tree already has it, as a text string.
func (t *nameTree) uniqueKey(name string) pdf.String {
	base, ext := name, ""
	if i := bytes.LastIndexByte([]byte(name), '.'); i > 0 {
		base, ext = name[:i], name[i:]
	}
	k := pdf.TextString(name)
	for n := 2; t.keys[string(k.Bytes)]; n++ {
		k = pdf.TextString(fmt.Sprintf("%s (%d)%s", base, n, ext))
	}
	t.keys[string(k.Bytes)] = true
	return k
}

// insert adds key → val to the tree at root and returns the new root
// object: the same reference when the root is indirect (it is rewritten
// in the update), else a new direct dictionary. The key goes into the
// leaf whose range holds it, or the nearest one; every node on the way
// gets its /Limits fixed. Only that path is rewritten.
func (t *nameTree) insert(root pdf.Object, key pdf.String, val pdf.Object) (pdf.Object, error) {
	if root == nil {
		return pdf.Dict{"Names": pdf.Array{key, val}}, nil
	}
	o, _, _, err := t.insertAt(root, key, val, true, 0)
	return o, err
}

// insertAt returns the node's new object and its new limits.
func (t *nameTree) insertAt(o pdf.Object, key pdf.String, val pdf.Object, isRoot bool, depth int) (pdf.Object, []byte, []byte, error) {
	if depth > maxNameTreeDepth {
		return nil, nil, nil, fmt.Errorf("name tree deeper than %d", maxNameTreeDepth)
	}
	d, err := t.dict(o)
	if err != nil || d == nil {
		return nil, nil, nil, fmt.Errorf("name tree node %v: %v", o, err)
	}
	d = d.Clone()
	kids, err := t.array(d["Kids"])
	if err != nil {
		return nil, nil, nil, err
	}
	var lo, hi []byte
	if len(kids) > 0 {
		// The last kid whose lower limit is not above the key; the first
		// kid when the key sorts before all.
		i := 0
		for j, k := range kids {
			kd, err := t.dict(k)
			if err != nil {
				return nil, nil, nil, err
			}
			if l, _, ok := limits(kd); ok && bytes.Compare(l, key.Bytes) <= 0 {
				i = j
			}
		}
		kid, klo, khi, err := t.insertAt(kids[i], key, val, false, depth+1)
		if err != nil {
			return nil, nil, nil, err
		}
		kids = slices.Clone(kids)
		kids[i] = kid
		d["Kids"] = kids
		// This node's range is its kids' ranges put together.
		for j, k := range kids {
			l, h := klo, khi
			if j != i {
				kd, err := t.dict(k)
				if err != nil {
					return nil, nil, nil, err
				}
				var ok bool
				if l, h, ok = limits(kd); !ok {
					continue
				}
			}
			if lo == nil || bytes.Compare(l, lo) < 0 {
				lo = l
			}
			if hi == nil || bytes.Compare(h, hi) > 0 {
				hi = h
			}
		}
	} else {
		names, err := t.array(d["Names"])
		if err != nil {
			return nil, nil, nil, err
		}
		if len(names)%2 != 0 {
			return nil, nil, nil, fmt.Errorf("name tree node %v: /Names is not an array of pairs", o)
		}
		at := len(names)
		for i := 0; i < len(names); i += 2 {
			if k, ok := names[i].(pdf.String); ok && bytes.Compare(k.Bytes, key.Bytes) > 0 {
				at = i
				break
			}
		}
		out := make(pdf.Array, 0, len(names)+2)
		out = append(out, names[:at]...)
		out = append(out, key, val)
		out = append(out, names[at:]...)
		d["Names"] = out
		for i := 0; i < len(out); i += 2 {
			k, _ := out[i].(pdf.String)
			if lo == nil || bytes.Compare(k.Bytes, lo) < 0 {
				lo = k.Bytes
			}
			if hi == nil || bytes.Compare(k.Bytes, hi) > 0 {
				hi = k.Bytes
			}
		}
	}
	if isRoot {
		delete(d, "Limits") // the root has none (Table 36)
	} else {
		d["Limits"] = pdf.Array{pdf.String{Bytes: lo, Hex: !printable(lo)}, pdf.String{Bytes: hi, Hex: !printable(hi)}}
	}
	if ref, ok := o.(pdf.Ref); ok {
		t.u.Set(ref, d)
		return ref, lo, hi, nil
	}
	return d, lo, hi, nil
}

// limits returns a node's /Limits.
func limits(d pdf.Dict) ([]byte, []byte, bool) {
	a, ok := d["Limits"].(pdf.Array)
	if !ok || len(a) != 2 {
		return nil, nil, false
	}
	l, ok1 := a[0].(pdf.String)
	h, ok2 := a[1].(pdf.String)
	return l.Bytes, h.Bytes, ok1 && ok2
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}
