package pdf

// ContentPaints reports whether a content stream holds an operator that
// puts marks on the page: a path painted, text shown, an XObject, an
// inline image or a shading (ISO 32000-2 §8.2, Table 50). It reads tokens
// only as far as it must to tell operators from operands, so a string or
// a name that looks like an operator is not taken for one.
func ContentPaints(b []byte) bool {
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case isWhite(c):
			i++
		case c == '%':
			for i < len(b) && b[i] != '\n' && b[i] != '\r' {
				i++
			}
		case c == '(':
			i = skipLiteralString(b, i)
		case c == '<' && i+1 < len(b) && b[i+1] == '<', c == '>' && i+1 < len(b) && b[i+1] == '>':
			i += 2
		case c == '<':
			for i < len(b) && b[i] != '>' {
				i++
			}
			i++
		case c == '/':
			i++
			for i < len(b) && isRegular(b[i]) {
				i++
			}
		case isDelim(c):
			i++
		default:
			j := i
			for j < len(b) && isRegular(b[j]) {
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
