// Package pdftest builds small PDF files for tests: hostile ones with one
// planted object, and the compressed streams they carry. It is test
// support only; nothing at run time imports it.
package pdftest

import (
	"bytes"
	"compress/zlib"
	"fmt"
)

// Build makes a classic PDF from object bodies numbered from 1, with a
// correct xref table; object 1 must be the catalog.
func Build(objects ...string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	offs := make([]int, 0, len(objects))
	for i, o := range objects {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(objects)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, x)
	return b.Bytes()
}

// Deflate compresses data as /FlateDecode expects.
func Deflate(data []byte) []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}
