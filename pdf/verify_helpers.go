package pdf

// Lookup returns the newest cross-reference entry for object number num,
// and false when no section lists it. The verifier compares entries of two
// revisions to skip objects an update listed again without changing them.
func (r *Reader) Lookup(num uint32) (Entry, bool, error) {
	return r.lookup(num)
}
